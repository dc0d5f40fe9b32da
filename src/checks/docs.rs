//! The card format and every claim's keys, generated from the claim types' JSON schemas (their
//! doc comments, types, defaults and enum values): `mirrorflow claims` prints it, `docs/CARDS.md`
//! holds it, and a test keeps the two equal.

use super::{claims, ClaimType};
use serde_json::Value;

/// The card format, in words (the envelope every card shares).
pub const CARD_FORMAT: &str = r#"# Theorem cards

A card is a TOML file, `theorems/<id>.toml`, one claim with its parameters, tolerances and negative
controls. This page is generated from the claim types (`mirrorflow claims --format md`); a test keeps
it current.

```toml
schema = 2                       # the card schema this build reads
id = "escape-time"               # the file stem
title = "…"                      # one line
provenance = "derived"           # paper | derived | literature
reference = "THEORY §4 …"        # where the statement comes from
statement = """…"""              # the statement in words and formulas
check = "escape/escape-time"     # family/claim: the claim type below
expect = "holds"                 # holds (PASS expected) | refuted (FAIL expected) | open (any)
tier = "default"                 # default | paper-scale (run with check --all --paper-scale)

[parameters]                     # fixed values of the claim's keys
gamma = 1.0

[grid]                           # axes: each a non-empty list; the claim runs on their product
depth = [2, 3, 4]
q = [1.0, 2.0]

[tolerance]                      # exactly the claim's tolerance names, positive numbers
escape = 1e-6
why = "…"                        # the method's error that justifies each tolerance

[[negative_control]]             # at least one: a wrong claim and the verdict it must give
description = "…"
set = { predict_q = 2.0 }        # overrides; a key on the grid takes a list as its new axis
expect = "fail"                  # fail (default) | pass (controls of refuted cards)
```

A key the claim does not have, a text value outside its list, an empty axis, a missing tolerance or
an unknown one is bad input (exit 2, naming the card line or the `--set` key). `check --set k=v`
overrides a key as a control's `set` does; `--set grid.k=[…]` makes k an axis.

"#;

fn type_of(prop: &Value, defs: &Value) -> String {
    if let Some(r) = prop.get("$ref").and_then(Value::as_str) {
        let name = r.rsplit('/').next().unwrap_or(r);
        let values: Vec<String> = defs
            .get(name)
            .and_then(|d| d.get("oneOf").or_else(|| d.get("enum")))
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.get("const").or(Some(v)).and_then(Value::as_str).map(|s| format!("`\"{s}\"`")))
                    .collect()
            })
            .unwrap_or_default();
        return if values.is_empty() { name.to_string() } else { values.join(" \\| ") };
    }
    let ty = match prop.get("type") {
        Some(Value::String(t)) => t.clone(),
        Some(Value::Array(a)) => {
            a.iter().filter_map(Value::as_str).filter(|t| *t != "null").collect::<Vec<_>>().join(" or ")
        }
        _ => "value".into(),
    };
    match (ty.as_str(), prop.get("items")) {
        ("array", Some(items)) => format!("list of {}", type_of(items, defs)),
        _ => ty,
    }
}

fn keys_table(schema: &Value) -> String {
    let defs = schema.get("$defs").cloned().unwrap_or(Value::Null);
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut out = String::from("| key | type | required / default | meaning |\n|---|---|---|---|\n");
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        for (key, prop) in props {
            let need = if required.contains(&key.as_str()) {
                "required".to_string()
            } else {
                match prop.get("default") {
                    Some(d) => format!("`{d}`"),
                    None => "optional".to_string(),
                }
            };
            let doc = prop.get("description").and_then(Value::as_str).unwrap_or("").replace('\n', " ");
            out += &format!("| `{key}` | {} | {need} | {} |\n", type_of(prop, &defs), doc.replace('|', "\\|"));
        }
    }
    out
}

/// The section of one claim.
pub fn claim_section(c: &ClaimType) -> String {
    let schema = (c.schema)();
    let tolerance = (c.tolerance_schema)();
    let doc = schema.get("description").and_then(Value::as_str).unwrap_or("").replace('\n', " ");
    format!(
        "## `{}`\n\n{doc}\n\nKeys:\n\n{}\nTolerances:\n\n{}\n",
        c.id,
        keys_table(schema.as_value()),
        keys_table(tolerance.as_value())
    )
}

/// The whole page: the card format and every claim.
pub fn markdown() -> String {
    let mut out = String::from(CARD_FORMAT);
    out += "# Claims\n\n";
    for c in claims() {
        out += &claim_section(&c);
    }
    out
}

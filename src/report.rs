//! Reports researchers can read and CI can diff: a stable JSON document (sorted keys, figures at
//! full f64 precision, the provenance of the run), a Markdown verdict table per family (figures
//! rounded for reading), and the comparison of two reports (verdicts; figures only when they move
//! beyond their tolerance).

use crate::checks::{self, Outcome};
use crate::claims::Card;
use crate::error::{InputError, InputResult};
use crate::verdict::{display_number, Evidence};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Non-finite figures (an INCONCLUSIVE row has none) are written as `null`.
mod nan_as_null {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        if v.is_finite() {
            s.serialize_f64(*v)
        } else {
            s.serialize_none()
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
    }
}

/// One evidence row (figures at full precision).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// Grid point.
    pub case: String,
    /// Quantity compared.
    pub quantity: String,
    /// Predicted value.
    #[serde(with = "nan_as_null")]
    pub predicted: f64,
    /// Measured value.
    #[serde(with = "nan_as_null")]
    pub measured: f64,
    /// Error measure.
    #[serde(with = "nan_as_null")]
    pub error: f64,
    /// Tolerance on the error.
    #[serde(with = "nan_as_null")]
    pub tolerance: f64,
    /// Routes.
    pub route: String,
    /// Row verdict label.
    pub verdict: String,
}

/// A negative control's outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ControlReport {
    /// `card/control-N`.
    pub id: String,
    /// What is wrong in it.
    pub description: String,
    /// The verdict it must give.
    pub expected: String,
    /// The verdict it gave.
    pub verdict: String,
    /// Whether they agree.
    pub matches: bool,
    /// Its power: the largest error/tolerance ratio of its rows (how far beyond its tolerance the
    /// wrong claim lands; below 1 a FAIL-expecting control passed).
    #[serde(with = "nan_as_null", default = "nan")]
    pub power: f64,
}

fn nan() -> f64 {
    f64::NAN
}

/// A card's outcome in a report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CardReport {
    /// The card's parameters as run: `[parameters]` with the `--set` overrides applied.
    #[serde(default)]
    pub parameters: BTreeMap<String, serde_json::Value>,
    /// The card's grid axes as run (with the `--set` overrides applied).
    #[serde(default)]
    pub grid: BTreeMap<String, serde_json::Value>,
    /// The random seeds among them (every key containing `seed`).
    #[serde(default)]
    pub seeds: BTreeMap<String, serde_json::Value>,
    /// The `--set key=value` overrides of the run, as given.
    #[serde(default)]
    pub overrides: Vec<String>,
    /// Card id.
    pub id: String,
    /// Title.
    pub title: String,
    /// paper / derived / literature.
    pub provenance: String,
    /// Check kind (the family).
    pub check: String,
    /// holds / refuted / open.
    pub expect: String,
    /// PASS / FAIL / INCONCLUSIVE.
    pub verdict: String,
    /// The reason of a non-PASS verdict.
    pub reason: String,
    /// Whether the verdict is the expected one.
    pub matches: bool,
    /// The tolerance justification.
    pub tolerance_why: String,
    /// Evidence rows.
    pub rows: Vec<Row>,
    /// Negative controls.
    pub controls: Vec<ControlReport>,
}

/// The JSON schema version of report.json and of the other JSON outputs (2: full-precision
/// figures, provenance, per-card parameters; 1: figures rounded to 6 digits, no provenance).
pub const SCHEMA: u32 = 2;

/// Where a result comes from: the tool, its version, the git commit it was built from (None when
/// unknown), and when it ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// `mirrorflow`.
    pub tool: String,
    /// The crate version.
    pub version: String,
    /// `git rev-parse HEAD` at build time, when the build had git and a repository.
    pub commit: Option<String>,
    /// The start of the run, UTC, ISO 8601 (`2026-11-30T15:40:00Z`).
    pub date: String,
}

impl Provenance {
    /// This build, now.
    pub fn now() -> Self {
        let commit = env!("MIRRORFLOW_GIT_COMMIT");
        Self {
            tool: "mirrorflow".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            commit: (!commit.is_empty()).then(|| commit.to_string()),
            date: utc_iso8601(std::time::SystemTime::now()),
        }
    }
}

/// `t` as UTC ISO 8601 to the second, e.g. `2026-11-30T15:40:00Z` (days to civil date by
/// H. Hinnant's algorithm on the proleptic Gregorian calendar).
pub fn utc_iso8601(t: std::time::SystemTime) -> String {
    let secs = t.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// A whole report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Format version ([`SCHEMA`]; reports of schema 1 wrote it as `version`).
    #[serde(alias = "version")]
    pub schema: u32,
    /// The run's provenance (None in reports of schema 1).
    #[serde(default)]
    pub provenance: Option<Provenance>,
    /// The shard of the run (`--shard K/N`) when it covers only part of the selected cards; absent
    /// in an unsharded or merged report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<crate::shard::Shard>,
    /// Cards, sorted by id.
    pub cards: Vec<CardReport>,
}

impl From<&Evidence> for Row {
    /// A row of report.json at full precision.
    fn from(e: &Evidence) -> Self {
        Row {
            case: e.case.clone(),
            quantity: e.quantity.clone(),
            predicted: e.predicted,
            measured: e.measured,
            error: e.error,
            tolerance: e.tolerance,
            route: e.route.clone(),
            verdict: e.verdict.label().to_string(),
        }
    }
}

/// Runs a card and its negative controls into a report entry.
pub fn card_report(card: &Card) -> InputResult<CardReport> {
    let options = checks::RunOptions { controls: true, verify_numerics: false };
    Ok(entry(card, &checks::run_with_controls(card, &options, &|| {})?))
}

/// The report entry of a card from its outcomes: the card's first, then its controls'.
pub fn entry(card: &Card, outcomes: &[Outcome]) -> CardReport {
    let o = &outcomes[0];
    let controls = outcomes[1..]
        .iter()
        .map(|c| ControlReport {
            id: c.theorem.clone(),
            description: c.title.clone(),
            expected: c.expected.clone(),
            verdict: c.verdict.label().to_string(),
            matches: c.matches,
            power: c.power,
        })
        .collect();
    let json = |m: &BTreeMap<String, toml::Value>| -> BTreeMap<String, serde_json::Value> {
        m.iter().map(|(k, v)| (k.clone(), serde_json::to_value(v).unwrap_or(serde_json::Value::Null))).collect()
    };
    let (parameters, grid) = (json(&card.parameters), json(&card.grid));
    let seeds = parameters.iter().chain(&grid).filter(|(k, _)| k.contains("seed")).map(|(k, v)| (k.clone(), v.clone()));
    CardReport {
        seeds: seeds.collect(),
        parameters,
        grid,
        overrides: Vec::new(),
        id: card.id.clone(),
        title: card.title.clone(),
        provenance: format!("{:?}", card.provenance).to_lowercase(),
        check: card.check.clone(),
        expect: o.expected.clone(),
        verdict: o.verdict.label().to_string(),
        reason: o.verdict.reason().to_string(),
        matches: o.matches,
        tolerance_why: card.tolerance_why.clone(),
        rows: o.evidence.iter().map(Row::from).collect(),
        controls,
    }
}

/// A report from entries (sorted by id).
pub fn from_entries(mut entries: Vec<CardReport>) -> Report {
    entries.sort_by(|a, b| a.id.cmp(&b.id));
    Report { schema: SCHEMA, provenance: Some(Provenance::now()), shard: None, cards: entries }
}

/// Merges reports (each with the file it came from) into one: the cards of all of them, sorted by
/// id, as [`from_entries`] orders an unsharded run. Errors (naming `--merge`): a card id in two
/// inputs; inputs of different tool versions or commits; shards of different splits (N, number
/// of selected cards), a shard given twice, a missing shard, or a shard with fewer cards than its
/// split gives it; sharded and unsharded inputs mixed. The merged report has no shard, the
/// version and commit of its inputs, and the earliest of their dates (the start of the run).
pub fn merge(inputs: &[(String, Report)]) -> InputResult<Report> {
    let err = |why: String| InputError::new("--merge", why);
    if inputs.is_empty() {
        return Err(err("name at least one report.json".into()));
    }
    let mut owner: BTreeMap<&str, &str> = BTreeMap::new();
    for (source, r) in inputs {
        for c in &r.cards {
            if let Some(first) = owner.insert(&c.id, source) {
                return Err(err(format!("card {} is in both {first} and {source}", c.id)));
            }
        }
    }
    let sharded: Vec<(&str, crate::shard::Shard)> =
        inputs.iter().filter_map(|(s, r)| r.shard.map(|k| (s.as_str(), k))).collect();
    if !sharded.is_empty() {
        if sharded.len() != inputs.len() {
            return Err(err("sharded and unsharded reports cannot be merged together".into()));
        }
        let (first_source, first) = sharded[0];
        let mut seen: BTreeMap<usize, &str> = BTreeMap::new();
        for &(source, k) in &sharded {
            if (k.count, k.selected) != (first.count, first.selected) {
                return Err(err(format!(
                    "{source} is shard {k} of {} cards, {first_source} is shard {first} of {} cards: not one run",
                    k.selected, first.selected
                )));
            }
            if let Some(other) = seen.insert(k.index, source) {
                return Err(err(format!("shard {k} is given twice: {other} and {source}")));
            }
        }
        let missing: Vec<String> =
            (1..=first.count).filter(|i| !seen.contains_key(i)).map(|i| format!("{i}/{}", first.count)).collect();
        if !missing.is_empty() {
            return Err(err(format!("shard(s) {} missing", missing.join(", "))));
        }
        for ((source, r), (_, k)) in inputs.iter().zip(&sharded) {
            if r.cards.len() != k.expected_len() {
                return Err(err(format!(
                    "{source} (shard {k}) holds {} cards, its split gives {}",
                    r.cards.len(),
                    k.expected_len()
                )));
            }
        }
    }
    let builds: Vec<(&str, String, Option<String>)> = inputs
        .iter()
        .filter_map(|(s, r)| r.provenance.as_ref().map(|p| (s.as_str(), p.version.clone(), p.commit.clone())))
        .collect();
    if let Some((first_source, version, commit)) = builds.first() {
        if let Some((source, v, c)) = builds.iter().find(|(_, v, c)| v != version || c != commit) {
            return Err(err(format!(
                "{source} was written by mirrorflow {v} ({}), {first_source} by {version} ({}): rerun the shards with one build",
                c.as_deref().unwrap_or("unknown commit"),
                commit.as_deref().unwrap_or("unknown commit")
            )));
        }
    }
    let date = inputs.iter().filter_map(|(_, r)| r.provenance.as_ref().map(|p| p.date.clone())).min();
    let mut merged = from_entries(inputs.iter().flat_map(|(_, r)| r.cards.iter().cloned()).collect());
    if let (Some(p), Some(date)) = (merged.provenance.as_mut(), date) {
        let first = inputs.iter().find_map(|(_, r)| r.provenance.as_ref()).expect("a date comes from a provenance");
        p.version = first.version.clone();
        p.commit = first.commit.clone();
        p.date = date;
    }
    Ok(merged)
}

/// Runs cards in parallel (on the current rayon pool), calling `progress` after each.
pub fn build(cards: &[Card], progress: &(dyn Fn(&str) + Sync)) -> InputResult<Report> {
    let entries = cards
        .par_iter()
        .map(|c| {
            let r = card_report(c);
            progress(&c.id);
            r
        })
        .collect::<InputResult<Vec<_>>>()?;
    Ok(from_entries(entries))
}

impl Report {
    /// Whether every card and control gave its expected verdict.
    pub fn all_as_expected(&self) -> bool {
        self.cards.iter().all(|c| c.matches && c.controls.iter().all(|k| k.matches))
    }

    /// Pretty JSON with sorted keys.
    pub fn to_json(&self) -> String {
        let value = serde_json::to_value(self).expect("serialisable");
        serde_json::to_string_pretty(&value).expect("serialisable") + "\n"
    }

    /// Parses a report written by [`Report::to_json`].
    pub fn from_json(source: &str, text: &str) -> InputResult<Self> {
        serde_json::from_str(text)
            .map_err(|e| InputError::new(format!("{source}:{}", e.line()), format!("not a mirrorflow report: {e}")))
    }

    /// The verdict table (one line per card) used in the README: the controls column gives the
    /// weakest power (error/tolerance) among the controls that must FAIL.
    pub fn summary_table(&self) -> String {
        let mut out = String::from(
            "| card | check | provenance | expect | verdict | controls | title |\n|---|---|---|---|---|---|---|\n",
        );
        for c in &self.cards {
            let controls = c.controls.iter().filter(|k| k.matches).count();
            let weakest = c
                .controls
                .iter()
                .filter(|k| k.expected == "fail")
                .map(|k| k.power)
                .fold(None, |m: Option<f64>, p| Some(m.map_or(p, |m| if p.is_nan() { p } else { m.min(p) })));
            let power = weakest.map_or(String::new(), |p| format!(" (power ≥ {p:.1e})"));
            out += &format!(
                "| `{}` | {} | {} | {} | {} | {}/{} as expected{power} | {} |\n",
                c.id,
                c.check,
                c.provenance,
                c.expect,
                c.verdict,
                controls,
                c.controls.len(),
                c.title.replace('|', "\\|")
            );
        }
        out
    }

    /// The Markdown report: a table per family with the key figures, then the plots.
    pub fn to_markdown(&self, plots: &[(String, String)]) -> String {
        let mut out = String::from("# mirrorflow report\n\n");
        let expected = self.cards.iter().filter(|c| c.matches).count();
        out += &format!(
            "{expected} of {} cards as expected; statements are reconstructed from the paper's confirmed definitions (provenance per card).\n\n",
            self.cards.len()
        );
        let mut families: BTreeMap<&str, Vec<&CardReport>> = BTreeMap::new();
        for c in &self.cards {
            families.entry(&c.check).or_default().push(c);
        }
        for (family, cards) in families {
            out += &format!("## {family}\n\n| claim | provenance | expect | verdict | key figure: predicted vs measured (error / tolerance) | route |\n|---|---|---|---|---|---|\n");
            for c in cards {
                let worst = worst_rows(&c.rows);
                let figures: Vec<String> = worst
                    .iter()
                    .map(|r| {
                        format!(
                            "{} [{}]: {} vs {} ({:.2e} / {:.1e})",
                            r.quantity,
                            r.case,
                            display_number(r.predicted),
                            display_number(r.measured),
                            r.error,
                            r.tolerance
                        )
                    })
                    .collect();
                let routes: Vec<&str> = worst.iter().map(|r| r.route.as_str()).collect();
                out += &format!(
                    "| **{}**: {} | {} | {} | {} | {} | {} |\n",
                    c.id,
                    c.title.replace('|', "\\|"),
                    c.provenance,
                    c.expect,
                    c.verdict,
                    figures.join("<br>").replace('|', "\\|"),
                    routes.join("<br>").replace('|', "\\|")
                );
            }
            out += "\n";
        }
        if !plots.is_empty() {
            out += "## Plots\n\n";
            for (file, caption) in plots {
                let data = std::path::Path::new(file).with_extension("csv");
                out += &format!("![{caption}]({file})\n\n*{caption}* (data: [{0}]({0}))\n\n", data.display());
            }
        }
        out
    }
}

impl Report {
    /// A self-contained HTML page: the verdict table per card and the plots.
    pub fn to_html(&self, plots: &[(String, String)]) -> String {
        let esc = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
        let mut out = String::from(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>mirrorflow report</title>\
             <style>body{font-family:sans-serif}td,th{border:1px solid #ccc;padding:4px}</style></head><body>\
             <h1>mirrorflow report</h1><table><tr><th>card</th><th>family</th><th>provenance</th>\
             <th>expect</th><th>verdict</th><th>key figures</th></tr>",
        );
        for c in &self.cards {
            let figures: Vec<String> = worst_rows(&c.rows)
                .iter()
                .map(|r| {
                    esc(&format!(
                        "{} [{}]: {} vs {}",
                        r.quantity,
                        r.case,
                        display_number(r.predicted),
                        display_number(r.measured)
                    ))
                })
                .collect();
            out += &format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&c.id),
                esc(&c.check),
                c.provenance,
                c.expect,
                c.verdict,
                figures.join("<br>")
            );
        }
        out += "</table>";
        for (file, caption) in plots {
            let data = std::path::Path::new(file).with_extension("csv");
            out += &format!(
                "<figure><img src=\"{file}\" alt=\"{0}\"><figcaption>{0} (data: <a href=\"{1}\">{1}</a>)</figcaption></figure>",
                esc(caption),
                data.display()
            );
        }
        out + "</body></html>\n"
    }
}

/// The row with the largest error/tolerance ratio of each quantity.
fn worst_rows(rows: &[Row]) -> Vec<&Row> {
    let mut worst: Vec<&Row> = Vec::new();
    let ratio = |r: &Row| if r.tolerance > 0.0 { r.error / r.tolerance } else { r.error };
    for r in rows {
        match worst.iter_mut().find(|w| w.quantity == r.quantity) {
            Some(w) => {
                if ratio(r).is_nan() || ratio(r) > ratio(w) {
                    *w = r;
                }
            }
            None => worst.push(r),
        }
    }
    worst
}

/// A difference between two reports.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// A card's verdict changed; `regressed` when it was as expected and no longer is.
    Verdict {
        /// Card or control id.
        id: String,
        /// Old verdict.
        old: String,
        /// New verdict.
        new: String,
        /// Whether this is a regression.
        regressed: bool,
    },
    /// A card or control appeared or disappeared (a removal is a regression).
    Card {
        /// Card or control id.
        id: String,
        /// "added" or "removed".
        what: &'static str,
    },
    /// A verdict string that is not PASS, FAIL or INCONCLUSIVE (a regression: the report cannot be
    /// trusted).
    Unknown {
        /// Card or control id.
        id: String,
        /// The string found.
        verdict: String,
    },
    /// A figure moved by more than its tolerance.
    Figure {
        /// Card id.
        id: String,
        /// Grid point.
        case: String,
        /// Quantity.
        quantity: String,
        /// Old measured value.
        old: f64,
        /// New measured value.
        new: f64,
        /// Its tolerance.
        tolerance: f64,
    },
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Change::Verdict { id, old, new, regressed } => {
                write!(f, "VERDICT {id}: {old} -> {new}{}", if *regressed { "  (regression)" } else { "" })
            }
            Change::Card { id, what } => write!(f, "CARD {id} {what}"),
            Change::Unknown { id, verdict } => {
                write!(f, "UNKNOWN {id}: verdict '{verdict}' is not PASS, FAIL or INCONCLUSIVE")
            }
            Change::Figure { id, case, quantity, old, new, tolerance } => {
                write!(f, "FIGURE {id} [{case}] {quantity}: {old} -> {new} (moved more than tolerance {tolerance:.1e})")
            }
        }
    }
}

/// Relative movement of a figure below which [`diff`] reports no change (noise in the last digits).
pub const FIGURE_NOISE: f64 = 1e-6;

/// The changes from `old` to `new`: verdicts (cards and controls) first, then figures that moved
/// by more than their tolerance (and more than [`FIGURE_NOISE`] relative). Metadata (provenance,
/// parameters) is not compared.
pub fn diff(old: &Report, new: &Report) -> Vec<Change> {
    let mut verdicts = Vec::new();
    let mut figures = Vec::new();
    let known = |v: &str| matches!(v, "PASS" | "FAIL" | "INCONCLUSIVE");
    for (id, v) in old
        .cards
        .iter()
        .chain(&new.cards)
        .flat_map(|c| std::iter::once((&c.id, &c.verdict)).chain(c.controls.iter().map(|k| (&k.id, &k.verdict))))
    {
        if !known(v) {
            verdicts.push(Change::Unknown { id: id.clone(), verdict: v.clone() });
        }
    }
    for n in &new.cards {
        let Some(o) = old.cards.iter().find(|o| o.id == n.id) else {
            verdicts.push(Change::Card { id: n.id.clone(), what: "added" });
            continue;
        };
        if o.verdict != n.verdict {
            let regressed = o.matches && !n.matches;
            verdicts.push(Change::Verdict {
                id: n.id.clone(),
                old: o.verdict.clone(),
                new: n.verdict.clone(),
                regressed,
            });
        }
        for oc in &o.controls {
            if !n.controls.iter().any(|nc| nc.id == oc.id) {
                verdicts.push(Change::Card { id: oc.id.clone(), what: "removed" });
            }
        }
        for nc in &n.controls {
            if let Some(oc) = o.controls.iter().find(|oc| oc.id == nc.id) {
                if oc.verdict != nc.verdict {
                    let regressed = oc.matches && !nc.matches;
                    verdicts.push(Change::Verdict {
                        id: nc.id.clone(),
                        old: oc.verdict.clone(),
                        new: nc.verdict.clone(),
                        regressed,
                    });
                }
            }
        }
        for nr in &n.rows {
            if let Some(or) = o.rows.iter().find(|r| r.case == nr.case && r.quantity == nr.quantity) {
                // a relative floor of 1e-6 ignores last-digit noise (and the 6-digit rounding of
                // schema-1 reports) in rows whose tolerance is 0 (observations)
                let moved = (nr.measured - or.measured).abs();
                let floor = FIGURE_NOISE * nr.measured.abs().max(or.measured.abs());
                if moved > nr.tolerance.max(floor) || (nr.measured.is_nan() != or.measured.is_nan()) {
                    figures.push(Change::Figure {
                        id: n.id.clone(),
                        case: nr.case.clone(),
                        quantity: nr.quantity.clone(),
                        old: or.measured,
                        new: nr.measured,
                        tolerance: nr.tolerance,
                    });
                }
            }
        }
    }
    for o in &old.cards {
        if !new.cards.iter().any(|n| n.id == o.id) {
            verdicts.push(Change::Card { id: o.id.clone(), what: "removed" });
        }
    }
    verdicts.extend(figures);
    verdicts
}

/// Whether any change is a regression: a verdict that was as expected and is not, a card or
/// control of the old report that is missing, or an unknown verdict string.
pub fn regressed(changes: &[Change]) -> bool {
    changes.iter().any(|c| {
        matches!(
            c,
            Change::Verdict { regressed: true, .. } | Change::Card { what: "removed", .. } | Change::Unknown { .. }
        )
    })
}

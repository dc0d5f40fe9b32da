//! Reports: files written, SVGs valid, `--diff` silent on an unchanged tree and loud (exit 1, card
//! named) when a card's prediction is altered; the README's card table is current.
mod common;

use common::mirrorflow;

use std::path::{Path, PathBuf};

fn fresh_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mirrorflow-report-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn report_writes_markdown_json_and_valid_svgs() {
    let out = fresh_dir("full");
    // one cheap card: the plots are computed by their own routes, and CI runs every card once
    let o = mirrorflow(&["report", "sign-flip", "--out", out.to_str().unwrap(), "--quiet", "--format", "html"]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("| claim | provenance | expect | verdict |"), "verdict table missing");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(json["cards"].as_array().unwrap().len(), 1);
    assert!(json["cards"][0]["controls"][0]["power"].as_f64().unwrap() > 1.0);
    assert!(out.join("report.html").exists());
    let svgs: Vec<PathBuf> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "svg"))
        .collect();
    assert!(svgs.len() >= 4, "{svgs:?}");
    for svg in svgs {
        let text = std::fs::read_to_string(&svg).unwrap();
        assert!(text.trim_start().starts_with("<svg") && text.trim_end().ends_with("</svg>"), "{svg:?}");
        assert!(
            text.matches("<path").count() + text.matches("<polyline").count() + text.matches("<circle").count() > 3
        );
        assert!(md.contains(svg.file_name().unwrap().to_str().unwrap()), "report.md must link {svg:?}");
        // the plotted data beside it, linked too
        let csv = std::fs::read_to_string(svg.with_extension("csv")).unwrap();
        assert!(csv.starts_with("series,x,y\n") && csv.lines().count() > 3, "{svg:?}");
        assert!(md.contains(svg.with_extension("csv").file_name().unwrap().to_str().unwrap()));
    }
}

#[test]
fn diff_is_silent_when_unchanged_and_names_an_altered_card() {
    let ids = ["balance-decoupled-decay", "balance-discrete"];
    let base = fresh_dir("base");
    let mut args = vec!["report", "--out", base.to_str().unwrap(), "--quiet", "--no-plots"];
    args.extend(ids);
    assert_eq!(mirrorflow(&args).status.code(), Some(0));
    let old = base.join("report.json");
    let again = fresh_dir("again");
    let mut args =
        vec!["report", "--out", again.to_str().unwrap(), "--quiet", "--no-plots", "--diff", old.to_str().unwrap()];
    args.extend(ids);
    let o = mirrorflow(&args);
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{text}");
    assert!(text.contains("no change"), "{text}");
    // a temporary card folder where one card claims the wrong decay rate μ instead of qμ
    let cards = fresh_dir("cards");
    std::fs::create_dir_all(&cards).unwrap();
    for id in ids {
        let mut card = std::fs::read_to_string(repo().join("theorems").join(format!("{id}.toml"))).unwrap();
        if id == "balance-decoupled-decay" {
            card = card.replace("t_end = 5.0", "t_end = 5.0\nrate_factor = 1.0");
        }
        std::fs::write(cards.join(format!("{id}.toml")), card).unwrap();
    }
    let altered = fresh_dir("altered");
    // the altered copies keep their ids: they run as card files (`--cards DIR` would add them to the
    // built-in cards, and a taken id is an error)
    let files: Vec<String> = ids.iter().map(|id| cards.join(format!("{id}.toml")).display().to_string()).collect();
    let mut args = vec!["report", "--out", altered.to_str().unwrap()];
    args.extend(files.iter().map(String::as_str));
    args.extend(["--quiet", "--no-plots", "--diff", old.to_str().unwrap()]);
    let o = mirrorflow(&args);
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{text}");
    let first = text.lines().next().unwrap_or_default();
    assert!(first.starts_with("VERDICT balance-decoupled-decay: PASS -> FAIL"), "verdict changes come first: {text}");
}

#[test]
fn readme_table_is_current() {
    // the committed report (kept current by CI's `check --all --diff snapshots/report.json`), so
    // that no card runs twice per test run
    let text = std::fs::read_to_string(repo().join("snapshots/report.json")).unwrap();
    let report = mirrorflow::report::Report::from_json("snapshots/report.json", &text).unwrap();
    let cards = mirrorflow::checks::load_cards(&repo().join("theorems")).unwrap();
    let ids: Vec<&str> = report.cards.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, cards.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), "snapshots/report.json is stale");
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let begin = readme.find("<!-- cards:begin -->\n").expect("README has the cards:begin marker") + 21;
    let end = readme.find("<!-- cards:end -->").expect("README has the cards:end marker");
    assert_eq!(
        &readme[begin..end],
        report.summary_table(),
        "README card table is stale: paste the table printed by `cargo run --release -- report`"
    );
}

#[test]
fn diff_exits_1_when_cards_or_controls_of_the_old_report_are_missing() {
    use mirrorflow::report::{diff, regressed, Change, Report};
    let text = std::fs::read_to_string(repo().join("snapshots/report.json")).unwrap();
    let old = Report::from_json("report.json", &text).unwrap();
    // a subset of the cards: every other card is missing
    let mut subset = old.clone();
    subset.cards.truncate(1);
    let changes = diff(&old, &subset);
    assert!(regressed(&changes), "a missing card is a regression");
    assert!(changes.iter().any(|c| matches!(c, Change::Card { what: "removed", .. })));
    // a removed control and an unknown verdict string
    let mut fewer = old.clone();
    let with_controls = fewer.cards.iter_mut().find(|c| !c.controls.is_empty()).unwrap();
    let removed = with_controls.controls.pop().unwrap().id;
    let changes = diff(&old, &fewer);
    assert!(regressed(&changes));
    assert!(changes.iter().any(|c| c.to_string() == format!("CARD {removed} removed")), "{changes:?}");
    let mut odd = old.clone();
    odd.cards[0].verdict = "MAYBE".into();
    assert!(regressed(&diff(&old, &odd)));
    assert!(!regressed(&diff(&old, &old)), "an unchanged report is no regression");
    // through the CLI: one card against the full committed report exits 1 and names a removed card
    let out = fresh_dir("subset");
    let o = mirrorflow(
        &["report", "sign-flip", "--out", out.to_str().unwrap(), "--quiet", "--no-plots", "--diff"]
            .into_iter()
            .chain([repo().join("snapshots/report.json").to_str().unwrap()])
            .collect::<Vec<_>>(),
    );
    assert_eq!(o.status.code(), Some(1), "{}", String::from_utf8_lossy(&o.stdout));
    assert!(String::from_utf8_lossy(&o.stdout).contains("removed"));
}

#[test]
fn diff_command_compares_saved_reports_without_running() {
    use mirrorflow::report::Report;
    let snapshot = repo().join("snapshots/report.json");
    let text = std::fs::read_to_string(&snapshot).unwrap();
    let old = Report::from_json("report.json", &text).unwrap();
    let dir = fresh_dir("diff-command");
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, r: &Report| {
        let path = dir.join(name);
        std::fs::write(&path, r.to_json()).unwrap();
        path.display().to_string()
    };
    let s = snapshot.to_str().unwrap();
    let run = |a: &str, b: &str| mirrorflow(&["diff", a, b]);
    // unchanged: exit 0, "no change"
    let o = run(s, s);
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stdout).contains("no change"));
    // a card's verdict regressed: exit 1, the card named first
    let mut worse = old.clone();
    let card = worse.cards.iter_mut().find(|c| c.verdict == "PASS" && c.matches).unwrap();
    let id = card.id.clone();
    card.verdict = "FAIL".into();
    card.matches = false;
    let o = run(s, &write("worse.json", &worse));
    assert_eq!(o.status.code(), Some(1));
    let first = String::from_utf8_lossy(&o.stdout).lines().next().unwrap_or_default().to_string();
    assert!(first.starts_with(&format!("VERDICT {id}: PASS -> FAIL")), "{first}");
    // a removed control and an unknown verdict are regressions
    let mut fewer = old.clone();
    fewer.cards.iter_mut().find(|c| !c.controls.is_empty()).unwrap().controls.pop();
    assert_eq!(run(s, &write("fewer.json", &fewer)).status.code(), Some(1));
    let mut odd = old.clone();
    odd.cards[0].verdict = "MAYBE".into();
    assert_eq!(run(s, &write("odd.json", &odd)).status.code(), Some(1));
    // an added card is no regression
    let mut more = old.clone();
    let mut extra = more.cards[0].clone();
    extra.id = "zz-extra".into();
    more.cards.push(extra);
    let o = run(s, &write("more.json", &more));
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stdout));
    // unreadable input: exit 2 naming the file
    common::assert_bad_input(&run(s, "/nonexistent/report.json"), "/nonexistent/report.json");
    std::fs::write(dir.join("garbage.json"), "{ not json").unwrap();
    common::assert_bad_input(&run(s, dir.join("garbage.json").to_str().unwrap()), "garbage.json");
}

#[test]
fn reports_and_check_json_carry_provenance_parameters_and_full_precision() {
    let out = fresh_dir("provenance");
    let o = mirrorflow(&[
        "check",
        "balance-discrete",
        "--set",
        "seed=7",
        "--out",
        out.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let outcomes: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["schema"], 2);
    for p in [&report["provenance"], &outcomes[0]["provenance"]] {
        assert_eq!(p["tool"], "mirrorflow");
        assert_eq!(p["version"], env!("CARGO_PKG_VERSION"));
        let date = p["date"].as_str().unwrap();
        assert!(date.len() == 20 && date.ends_with('Z') && &date[10..11] == "T", "{date}");
        assert!(p["commit"].is_null() || p["commit"].as_str().unwrap().len() == 40, "{p}");
    }
    // a list of outcomes, each with theorem, schema and the parameters it ran with
    let list = outcomes.as_array().unwrap();
    assert!(list.len() >= 2);
    for o in list {
        assert!(o["theorem"].as_str().unwrap().starts_with("balance-discrete"));
        assert_eq!(o["schema"], 2);
        assert_eq!(o["seeds"]["seed"], 7);
        assert_eq!(o["overrides"][0], "seed=7");
    }
    let card = &report["cards"][0];
    assert_eq!(card["seeds"]["seed"], 7);
    assert_eq!(card["overrides"][0], "seed=7");
    assert!(card["parameters"].as_object().unwrap().len() >= 2, "{card}");
    // full precision: report rows equal the check outcome's evidence bit for bit
    let rows = card["rows"].as_array().unwrap();
    let evidence = outcomes[0]["evidence"].as_array().unwrap();
    assert_eq!(rows.len(), evidence.len());
    for (r, e) in rows.iter().zip(evidence) {
        for key in ["predicted", "measured", "error"] {
            assert_eq!(r[key].as_f64().map(f64::to_bits), e[key].as_f64().map(f64::to_bits), "{key}: {r} vs {e}");
        }
    }
}

#[test]
fn diff_ignores_provenance_parameters_and_last_digit_noise() {
    use mirrorflow::report::{diff, Provenance, Report};
    let text = std::fs::read_to_string(repo().join("snapshots/report.json")).unwrap();
    let old = Report::from_json("report.json", &text).unwrap();
    let mut new = old.clone();
    new.schema = mirrorflow::report::SCHEMA;
    new.provenance = Some(Provenance::now());
    for c in &mut new.cards {
        c.parameters.insert("alpha".into(), serde_json::json!(0.5));
        c.overrides.push("alpha=0.5".into());
        for r in &mut c.rows {
            r.measured *= 1.0 + 3e-7; // below the 6-digit rounding of schema-1 reports
        }
    }
    assert_eq!(diff(&old, &new), vec![], "metadata and last-digit noise are not changes");
    // round trip through JSON keeps every figure
    let again = Report::from_json("again", &new.to_json()).unwrap();
    assert_eq!(again.to_json(), new.to_json());
}

#[test]
fn utc_dates_are_iso_8601() {
    use mirrorflow::report::utc_iso8601;
    use std::time::{Duration, UNIX_EPOCH};
    assert_eq!(utc_iso8601(UNIX_EPOCH), "1970-01-01T00:00:00Z");
    assert_eq!(utc_iso8601(UNIX_EPOCH + Duration::from_secs(1_700_000_000)), "2023-11-14T22:13:20Z");
    assert_eq!(utc_iso8601(UNIX_EPOCH + Duration::from_secs(951_782_400)), "2000-02-29T00:00:00Z");
    assert_eq!(utc_iso8601(UNIX_EPOCH + Duration::from_secs(4_107_542_399)), "2100-02-28T23:59:59Z");
}

/// report.json as a JSON value without the run's date (the one field two runs may differ in).
fn without_date(path: &Path) -> serde_json::Value {
    let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    v["provenance"].as_object_mut().unwrap().remove("date");
    v
}

#[test]
fn shards_merge_into_the_unsharded_report_whatever_the_jobs() {
    // three cheap cards (< 0.5 s each): sign-flip, escape-time, wd-equilibria
    let ids = ["wd-equilibria", "sign-flip", "escape-time"];
    let run = |dir: &Path, extra: &[&str]| {
        let mut args = vec!["report", "--out", dir.to_str().unwrap(), "--quiet", "--no-plots"];
        args.extend(ids);
        args.extend(extra);
        let o = mirrorflow(&args);
        assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    };
    let full = fresh_dir("unsharded");
    run(&full, &["--jobs", "2"]);
    let (s1, s2) = (fresh_dir("shard-1"), fresh_dir("shard-2"));
    run(&s1, &["--shard", "1/2", "--jobs", "1"]);
    run(&s2, &["--shard", "2/2", "--jobs", "3"]);
    // a shard compared with the unsharded report sees only its own cards: no change, exit 0
    let s1_again = fresh_dir("shard-1-diff");
    run(&s1_again, &["--shard", "1/2", "--diff", full.join("report.json").to_str().unwrap()]);
    // the split: sorted by id (escape-time, sign-flip, wd-equilibria), card i to shard i mod 2 + 1
    let shard_ids = |dir: &Path| -> Vec<String> {
        without_date(&dir.join("report.json"))["cards"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(shard_ids(&s1), ["escape-time", "wd-equilibria"]);
    assert_eq!(shard_ids(&s2), ["sign-flip"]);
    assert_eq!(
        without_date(&s1.join("report.json"))["shard"],
        serde_json::json!({"index": 1, "count": 2, "selected": 3})
    );
    let merged = fresh_dir("merged");
    let (r1, r2) = (s1.join("report.json"), s2.join("report.json"));
    // the order of the inputs does not matter
    let o = mirrorflow(&[
        "report",
        "--merge",
        r2.to_str().unwrap(),
        r1.to_str().unwrap(),
        "--out",
        merged.to_str().unwrap(),
        "--quiet",
        "--no-plots",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    // identical to the unsharded report: card order, verdicts, figures bit for bit, metadata
    let (a, b) = (without_date(&full.join("report.json")), without_date(&merged.join("report.json")));
    assert_eq!(a, b);
    assert!(b.get("shard").is_none(), "a merged report is whole");
    assert_eq!(
        std::fs::read_to_string(full.join("report.md")).unwrap(),
        std::fs::read_to_string(merged.join("report.md")).unwrap()
    );
    // and `diff` sees no change
    let o =
        mirrorflow(&["diff", full.join("report.json").to_str().unwrap(), merged.join("report.json").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stdout).contains("no change"));

    // bad merges: exit 2 naming --merge
    let bad = fresh_dir("bad-merge");
    let merge = |inputs: &[&Path]| {
        let mut args = vec!["report", "--out", bad.to_str().unwrap(), "--quiet", "--no-plots", "--merge"];
        args.extend(inputs.iter().map(|p| p.to_str().unwrap()));
        mirrorflow(&args)
    };
    common::assert_bad_input(&merge(&[&r1]), "2/2 missing");
    common::assert_bad_input(&merge(&[&r1, &r1]), "--merge");
    common::assert_bad_input(&merge(&[&full.join("report.json"), &r2]), "sign-flip");
}

#[test]
fn bad_shards_exit_2_and_empty_shards_are_valid_runs() {
    for bad in ["0/2", "3/2", "1/0", "x", "1-2"] {
        common::assert_bad_input(&mirrorflow(&["check", "sign-flip", "--shard", bad]), "--shard");
        common::assert_bad_input(&mirrorflow(&["report", "sign-flip", "--shard", bad, "--no-plots"]), "--shard");
    }
    // one card in 3 shards: shard 3/3 is empty, exit 0, an empty list of outcomes
    let o = mirrorflow(&["check", "sign-flip", "--shard", "3/3", "--format", "json", "--quiet"]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap(), serde_json::json!([]));
    // ... and its report holds no cards but records the shard, so the merge counts it
    let out = fresh_dir("empty-shard");
    let o = mirrorflow(&["report", "sign-flip", "--shard", "3/3", "--out", out.to_str().unwrap(), "--quiet"]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let r = without_date(&out.join("report.json"));
    assert_eq!(r["cards"], serde_json::json!([]));
    assert_eq!(r["shard"]["index"], 3);
    // no plots in a shard: the merge draws them
    assert!(!std::fs::read_dir(&out).unwrap().any(|e| e.unwrap().path().extension().is_some_and(|x| x == "svg")));
}

#[test]
fn sweep_streams_the_check_rows_point_by_point_and_resumes_shards() {
    let grid = ["--set", "grid.alpha=[0.1,0.01]", "--set", "grid.depth=[2,3]", "--set", "grid.gamma=[1.0]"];
    let lines =
        |text: &str| -> Vec<serde_json::Value> { text.lines().map(|l| serde_json::from_str(l).unwrap()).collect() };
    let mut args = vec!["sweep", "escape-time", "--jobs", "2"];
    args.extend(grid);
    let o = mirrorflow(&args);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let mut all = lines(&String::from_utf8_lossy(&o.stdout));
    assert_eq!(all.len(), 2 * 2 * 4, "alpha × depth × q points");
    all.sort_by_key(|l| l["index"].as_u64());
    // the rows of the sweep are the rows of `check`, in the same order
    let mut args = vec!["check", "escape-time", "--no-controls", "--format", "json", "--quiet"];
    args.extend(grid);
    let o = mirrorflow(&args);
    let check: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let rows: Vec<&serde_json::Value> = all.iter().flat_map(|l| l["rows"].as_array().unwrap()).collect();
    let evidence = check[0]["evidence"].as_array().unwrap();
    assert_eq!(rows.len(), evidence.len());
    for (r, e) in rows.iter().zip(evidence) {
        for key in ["case", "quantity", "predicted", "measured", "error", "tolerance"] {
            assert_eq!(r[key], e[key], "{key}");
        }
    }
    // shard 1/2 into a file, a line cut short (a killed job), then the rest resumed: every point
    // once, equal to the unsharded sweep
    let dir = fresh_dir("sweep");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("sweep.jsonl");
    let resume = |extra: &[&str]| {
        let mut args = vec!["sweep", "escape-time", "--resume", file.to_str().unwrap()];
        args.extend(grid);
        args.extend(extra);
        let o = mirrorflow(&args);
        assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
        assert!(o.stdout.is_empty());
    };
    resume(&["--shard", "1/2"]);
    let text = std::fs::read_to_string(&file).unwrap();
    assert_eq!(text.lines().count(), 8);
    std::fs::write(&file, format!("{text}{{\"card\":\"escape-time\",\"ind")).unwrap();
    resume(&["--jobs", "1"]);
    resume(&[]);
    let text = std::fs::read_to_string(&file).unwrap();
    let mut again: Vec<serde_json::Value> = text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    again.sort_by_key(|l| l["index"].as_u64());
    let strip = |v: &[serde_json::Value]| -> Vec<serde_json::Value> {
        v.iter()
            .map(|l| {
                let mut l = l.clone();
                l.as_object_mut().unwrap().remove("seconds");
                l
            })
            .collect()
    };
    assert_eq!(strip(&again), strip(&all));
    common::assert_bad_input(&mirrorflow(&["sweep", "escape-time", "--shard", "3/2"]), "--shard");
}

#[test]
fn readme_figure_is_the_current_rendering() {
    // snapshots/mirror_trajectories.{svg,csv} (shown in the README) are copies of `report`'s output
    let chart = mirrorflow::figures::mirror_trajectories().unwrap();
    let stale = "stale: copy mirror_trajectories.{svg,csv} from `cargo run --release -- report --out DIR`";
    let svg = std::fs::read_to_string(repo().join("snapshots/mirror_trajectories.svg")).unwrap();
    assert!(svg == chart.svg().unwrap(), "snapshots/mirror_trajectories.svg is {stale}");
    let csv = std::fs::read_to_string(repo().join("snapshots/mirror_trajectories.csv")).unwrap();
    // the CSV keeps every digit for its users; its last ones move with any change of kernel or
    // event time (and libm), so the copy is current when it has the same series and points and
    // every value agrees to 1e-8 of its magnitude (+1e-14 for values at 0): the flows run at rtol
    // 1e-11 (Settings::default), and a stale copy (a changed flow, setting or series) differs far
    // above that
    let rows = |text: &str| -> Vec<(String, Vec<f64>)> {
        text.lines()
            .skip(1)
            .map(|l| {
                let (name, rest) = l.rsplit_once("\",").expect("quoted series name");
                (name.to_string(), rest.split(',').filter(|v| !v.is_empty()).map(|v| v.parse().unwrap()).collect())
            })
            .collect()
    };
    let (copy, now) = (rows(&csv), rows(&chart.csv()));
    assert_eq!(copy.len(), now.len(), "snapshots/mirror_trajectories.csv is {stale}");
    for ((name_a, a), (name_b, b)) in copy.iter().zip(&now) {
        let agree = name_a == name_b
            && a.len() == b.len()
            && a.iter().zip(b).all(|(u, v)| (u - v).abs() <= 1e-8 * u.abs().max(v.abs()) + 1e-14);
        assert!(agree, "snapshots/mirror_trajectories.csv is {stale}: {name_a} {a:?} vs {name_b} {b:?}");
    }
}

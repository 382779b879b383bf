//! The performance budgets, checked over the figures `make bench` last wrote (bench/results.json),
//! not by timing anything here. Time budgets are relative to the do-nothing `bench-floor` measured in
//! the same run (every row carries it), so a slow moment of a shared machine moves both sides: init ≤
//! floor + 4 ms, cold penalty ≤ floor + 6 ms (plus, where a function has one, its measured
//! once-per-process secret fetch). Zip ≤ 4 MiB, peak RSS ≤ 16 MiB. And every figure timed
//! the function's intended work (only its expected success came back).

use switchboard_local::{
    bench::{expected_result, Report},
    cloud::function_names,
    repo_root,
};

const MAX_ZIP_BYTES: u64 = 4 * 1024 * 1024;
const MAX_INIT_OVER_FLOOR_MS: f64 = 4.0;
const MAX_COLD_PENALTY_OVER_FLOOR_MS: f64 = 6.0;
const MAX_PEAK_RSS_KIB: u64 = 16 * 1024;

fn report() -> Report {
    let path = repo_root().join("bench/results.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}; run `make bench`", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn every_function_has_been_benchmarked_with_enough_runs() {
    let report = report();
    assert_eq!(report.profile, "release");
    assert!(
        report.cold_runs >= 20 && report.warm_runs >= 200,
        "{} cold / {} warm runs",
        report.cold_runs,
        report.warm_runs
    );
    for function in function_names().unwrap().into_iter().chain(["bench-floor".to_owned()]) {
        assert!(
            report.functions.iter().any(|f| f.function == function),
            "{function} is not in bench/results.json: run `make bench` after adding a function"
        );
    }
}

#[test]
fn every_function_is_within_its_budgets() {
    let mut over = Vec::new();
    for f in report().functions {
        if f.zip_bytes > MAX_ZIP_BYTES {
            over.push(format!("{}: zip {} bytes > {MAX_ZIP_BYTES}", f.function, f.zip_bytes));
        }
        let Some(floor) = f.floor else {
            over.push(format!("{}: measured without the floor in the same run: run `make bench`", f.function));
            continue;
        };
        let init_budget = floor.init_ms + MAX_INIT_OVER_FLOOR_MS;
        if f.init_ms.is_nan() || f.init_ms > init_budget {
            over.push(format!(
                "{}: init {:.2} ms > {init_budget:.2} ms (floor {:.2} + {MAX_INIT_OVER_FLOOR_MS})",
                f.function, f.init_ms, floor.init_ms
            ));
        }
        // A function that needs a secret (the PIN pepper, the JOSE keys: never in environment
        // variables) fetches it once per process, in its first call; that measured fetch is its
        // own breakdown column and is not counted against the budget of everything else.
        let secret_fetch = f.breakdown.secret_fetch.unwrap_or(0.0);
        let penalty_budget = floor.cold_penalty_ms + MAX_COLD_PENALTY_OVER_FLOOR_MS + secret_fetch;
        if f.cold_penalty_ms.is_nan() || f.cold_penalty_ms > penalty_budget {
            over.push(format!(
                "{}: cold penalty {:.2} ms > {penalty_budget:.2} ms (floor {:.2} + {MAX_COLD_PENALTY_OVER_FLOOR_MS} \
                 + secret fetch {secret_fetch:.2})",
                f.function, f.cold_penalty_ms, floor.cold_penalty_ms
            ));
        }
        if f.peak_rss_kib > MAX_PEAK_RSS_KIB || f.peak_rss_kib == 0 {
            over.push(format!(
                "{}: peak RSS {} KiB (budget {MAX_PEAK_RSS_KIB} KiB, 0 = not measured)",
                f.function, f.peak_rss_kib
            ));
        }
    }
    assert!(over.is_empty(), "over budget:\n{}", over.join("\n"));
}

#[test]
fn every_function_answered_only_its_expected_success() {
    let mut wrong = Vec::new();
    for f in report().functions {
        match expected_result(&f.function) {
            None => wrong.push(format!("{}: no expected result in switchboard_local::bench::WORKLOADS", f.function)),
            Some(expected) if f.results.is_empty() || f.results.keys().any(|code| code != expected) => {
                wrong.push(format!("{}: answered {:?}, expected only {expected}", f.function, f.results))
            }
            Some(_) => {}
        }
    }
    assert!(
        wrong.is_empty(),
        "bench/results.json times answers other than each function's success: run `make bench` \
         (the bench now fails on a wrong answer, so fresh figures pass this)\n{}",
        wrong.join("\n")
    );
}

//! The performance budgets, checked over the figures `make bench` last wrote (bench/results.json),
//! not by timing anything here: zip ≤ 4 MiB, median cold penalty ≤ 20 ms, peak RSS ≤ 24 MiB; and
//! that every figure timed the function's intended work (only its expected success came back).

use switchboard_local::{
    bench::{expected_result, Report},
    cloud::function_names,
    repo_root,
};

const MAX_ZIP_BYTES: u64 = 4 * 1024 * 1024;
const MAX_COLD_PENALTY_MS: f64 = 20.0;
const MAX_PEAK_RSS_KIB: u64 = 24 * 1024;

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
        report.cold_runs >= 10 && report.warm_runs >= 200,
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
        if f.cold_penalty_ms.is_nan() || f.cold_penalty_ms > MAX_COLD_PENALTY_MS {
            over.push(format!("{}: cold penalty {:.2} ms > {MAX_COLD_PENALTY_MS} ms", f.function, f.cold_penalty_ms));
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

//! Each function's `MemorySize`, chosen from its figures under Lambda's CPU model, as AWS Lambda
//! Power Tuning does: what an invocation costs at each size against what a caller waits for.
//!
//! The rule: of the sizes whose cold total and warm p99 (under the 20 ms scheduler period, the
//! pessimistic end of the range) are within [`LATENCY_TOLERANCE`] of the best size's, the cheapest per
//! million warm invocations; where no size is within it on both, the one with the least cold total +
//! warm p99. Cost = billed duration (warm p50 rounded up to the millisecond, as Lambda
//! bills) × memory × the GB-second price, + the request price. At these durations the request price
//! dominates, so a larger size costs little more and is taken whenever it is clearly faster.
//!
//! The size template.yaml already declares is kept while its latency stays within twice that
//! tolerance ([`KEEP_LATENCY_TOLERANCE`]) and it costs at most [`KEEP_COST_TOLERANCE`] more than the
//! size the rule would choose afresh: a warm p99 over 50 invocations is nearly their maximum and moves with the
//! local cloud's stalls, and without this band each run moved a third of the functions one size
//! either way for cents per million (11 of 28 on 7 December 2026).

use std::collections::BTreeMap;

use super::{Figures, ModelFigures};

/// Lambda's arm64 price per GB-second and per request (us-east-1, first tier; AWS's pricing page).
pub const PRICE_PER_GB_SECOND_USD: f64 = 0.000_013_333_4;
pub const PRICE_PER_REQUEST_USD: f64 = 0.000_000_2;

/// The scheduler period the choice is made at (the slower of the two the bench reports).
pub const CHOICE_PERIOD_MS: u64 = 20;

/// How far from the best size's latency a size may be and still count as fast: 25 %, or 5 ms
/// where that is more (a difference a caller of a contact flow or a web page cannot notice, and
/// about the spread of a p99 over 50 invocations on a shared machine).
pub const LATENCY_TOLERANCE: (f64, f64) = (0.25, 5.0);

/// How far from the best size's latency the declared size may be and still be kept: twice
/// [`LATENCY_TOLERANCE`], so a size chosen as fast is not dropped for one run's stall.
pub const KEEP_LATENCY_TOLERANCE: (f64, f64) = (0.5, 10.0);

/// How much more per million warm invocations the declared size may cost than the fresh choice and
/// still be kept: 10 % (about what 1,024 MB costs over 256 MB at a 2 ms billed duration) or 10 cents,
/// whichever is more.
pub const KEEP_COST_TOLERANCE: (f64, f64) = (0.10, 0.10);

/// One size's cost and latency.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SizeCost {
    pub memory_mb: u64,
    pub cold_total_ms: f64,
    pub warm_p99_ms: f64,
    /// USD per million warm invocations.
    pub cost_per_million_usd: f64,
    /// Within the tolerance of the best latency.
    pub fast: bool,
    /// Within the wider tolerance a declared size is kept in.
    pub keepable: bool,
}

/// The sizes measured for `figures` (at [`CHOICE_PERIOD_MS`]), smallest first, each priced and
/// marked fast or not.
pub fn priced(figures: &Figures) -> Vec<SizeCost> {
    let mut sizes: Vec<&ModelFigures> = figures.lambda.iter().filter(|m| m.period_ms == CHOICE_PERIOD_MS).collect();
    sizes.sort_by_key(|m| m.memory_mb);
    let best = |value: fn(&ModelFigures) -> f64| sizes.iter().map(|m| value(m)).fold(f64::INFINITY, f64::min);
    let (best_cold, best_warm) = (best(|m| m.cold_total_ms), best(|m| m.warm_p99_ms));
    let near = |m: &ModelFigures, tolerance| {
        within(m.cold_total_ms, best_cold, tolerance) && within(m.warm_p99_ms, best_warm, tolerance)
    };
    sizes
        .iter()
        .map(|m| {
            let billed_seconds = m.warm_p50_ms.ceil().max(1.0) / 1_000.0;
            let per_invocation =
                m.memory_mb as f64 / 1_024.0 * billed_seconds * PRICE_PER_GB_SECOND_USD + PRICE_PER_REQUEST_USD;
            SizeCost {
                memory_mb: m.memory_mb,
                cold_total_ms: m.cold_total_ms,
                warm_p99_ms: m.warm_p99_ms,
                cost_per_million_usd: per_invocation * 1e6,
                fast: near(m, LATENCY_TOLERANCE),
                keepable: near(m, KEEP_LATENCY_TOLERANCE),
            }
        })
        .collect()
}

/// The size to deploy `figures`' function with, given the size template.yaml declares for it
/// (`declared`): the cheapest fast size (ties: the smaller), else the quickest on cold total + warm
/// p99; but the declared size while it is within [`KEEP_LATENCY_TOLERANCE`] of the best latencies and
/// costs at most [`KEEP_COST_TOLERANCE`] more than that choice.
pub fn choose(figures: &Figures, declared: Option<u64>) -> Option<SizeCost> {
    let sizes = priced(figures);
    let cheapest_fast = sizes
        .iter()
        .filter(|s| s.fast)
        .min_by(|a, b| a.cost_per_million_usd.total_cmp(&b.cost_per_million_usd).then(a.memory_mb.cmp(&b.memory_mb)));
    let quickest =
        || sizes.iter().min_by(|a, b| (a.cold_total_ms + a.warm_p99_ms).total_cmp(&(b.cold_total_ms + b.warm_p99_ms)));
    let fresh = cheapest_fast.or_else(quickest)?;
    let kept = sizes.iter().find(|s| {
        Some(s.memory_mb) == declared
            && s.keepable
            && within(s.cost_per_million_usd, fresh.cost_per_million_usd, KEEP_COST_TOLERANCE)
    });
    Some(*kept.unwrap_or(fresh))
}

/// `value` is at most `best` plus a share of it or an absolute amount, whichever is more (the
/// tolerances above are all of that shape).
fn within(value: f64, best: f64, (share, at_least): (f64, f64)) -> bool {
    value <= best + (best * share).max(at_least)
}

/// The `MemorySize` each function's resource declares in `template` (a function is the resource
/// whose `CodeUri` is `functions/<name>`).
pub fn declared_sizes(template: &str) -> Result<BTreeMap<String, u64>, serde_yaml::Error> {
    let template: serde_yaml::Value = serde_yaml::from_str(template)?;
    let resources = template.get("Resources").and_then(|r| r.as_mapping()).into_iter().flatten();
    Ok(resources
        .filter_map(|(_, resource)| {
            let properties = resource.get("Properties")?;
            let function = properties.get("CodeUri")?.as_str()?.strip_prefix("functions/")?;
            Some((function.to_owned(), properties.get("MemorySize")?.as_u64()?))
        })
        .collect())
}

/// `template` with `function`'s `MemorySize` line set to `memory_mb`, every other byte as it was;
/// `None` when the function's resource has no single `MemorySize:` line to rewrite.
pub fn with_declared_size(template: &str, function: &str, memory_mb: u64) -> Option<String> {
    const LINE: &str = "\n      MemorySize: ";
    let code_uri = template.find(&format!("\n      CodeUri: functions/{function}\n"))?;
    // The resource runs from its key (a line indented by two) to the next line indented by two or less.
    let starts_resource_or_section = |newline: &usize| {
        let line = &template[newline + 1..];
        line.strip_prefix("  ").unwrap_or(line).starts_with(|c: char| !c.is_whitespace())
    };
    let start = template[..code_uri].rmatch_indices('\n').map(|(i, _)| i).find(starts_resource_or_section)?;
    let end = template[code_uri + 1..]
        .match_indices('\n')
        .map(|(i, _)| code_uri + 1 + i)
        .find(starts_resource_or_section)
        .unwrap_or(template.len());
    let resource = &template[start..end];
    let [(line, _)] = resource.match_indices(LINE).collect::<Vec<_>>()[..] else { return None };
    let value_start = start + line + LINE.len();
    // The number only: a comment after it stays.
    let value_end = value_start + template[value_start..].find(|c: char| !c.is_ascii_digit())?;
    Some(format!("{}{memory_mb}{}", &template[..value_start], &template[value_end..]))
}

/// The choice table for results.md, given the sizes template.yaml declares.
pub fn markdown(functions: &[Figures], declared: &BTreeMap<String, u64>) -> String {
    let mut out = String::from(
        "\nMemory size per function (`bench::memory`: of the sizes within 25 % or 5 ms of the best cold total and \
         warm p99 at the 20 ms period, the cheapest per million warm invocations, else the least cold total + warm p99; \
         the size template.yaml declared is kept while within 50 % or 10 ms of those and 10 % or 10 cents of that cost; arm64 prices). Each cell: \
         cold total / warm p99 ms, USD per million; ✓ = fast enough; the choice is template.yaml's `MemorySize` \
         (`switchboard-local memory-sizes --write` sets it):\n\n\
         | function | 128 MB | 256 MB | 512 MB | 1,024 MB | chosen |\n|---|---|---|---|---|---:|\n",
    );
    for f in functions.iter().filter(|f| !f.function.ends_with(super::NODE_SUFFIX)) {
        let sizes = priced(f);
        let cell = |memory: u64| {
            sizes.iter().find(|s| s.memory_mb == memory).map_or("—".to_owned(), |s| {
                format!(
                    "{:.1} / {:.1}, ${:.3}{}",
                    s.cold_total_ms,
                    s.warm_p99_ms,
                    s.cost_per_million_usd,
                    if s.fast { " ✓" } else { "" }
                )
            })
        };
        let chosen =
            choose(f, declared.get(&f.function).copied()).map_or("—".to_owned(), |s| format!("{} MB", s.memory_mb));
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {chosen} |\n",
            f.function,
            cell(128),
            cell(256),
            cell(512),
            cell(1_024)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures(sizes: &[(u64, f64, f64, f64)]) -> Figures {
        let lambda = sizes
            .iter()
            .flat_map(|&(memory_mb, cold_total_ms, warm_p50_ms, warm_p99_ms)| {
                [20, 100].map(|period_ms| ModelFigures {
                    memory_mb,
                    period_ms,
                    // The 100 ms period is faster here; the choice must read the 20 ms one.
                    cold_total_ms: if period_ms == 20 { cold_total_ms } else { cold_total_ms / 3.0 },
                    warm_p50_ms,
                    warm_p99_ms,
                })
            })
            .collect();
        Figures {
            function: "f".into(),
            zip_bytes: 0,
            init_ms: 0.0,
            first_invocation_ms: 0.0,
            warm_p50_ms: 0.0,
            warm_p99_ms: 0.0,
            cold_penalty_ms: 0.0,
            first_invocation_handshakes: f64::NAN,
            first_invocation_handshake_ms: f64::NAN,
            peak_rss_kib: 0,
            results: Default::default(),
            breakdown: Default::default(),
            floor: None,
            cpu_per_warm_ms: 0.0,
            aws_calls_per_warm: 0.0,
            lambda,
            build: String::new(),
        }
    }

    #[test]
    fn a_size_much_faster_than_128_mb_is_chosen_when_it_costs_little_more() {
        let f = figures(&[(128, 30.0, 3.2, 26.0), (256, 16.0, 3.1, 9.0), (512, 9.3, 3.0, 4.0), (1_024, 9.0, 3.0, 3.8)]);
        let sizes = priced(&f);
        assert_eq!(sizes.iter().filter(|s| s.fast).map(|s| s.memory_mb).collect::<Vec<_>>(), [512, 1_024]);
        // 4 ms billed at 128 MB: 0.125 GB × 0.004 s × price + the request.
        let at_128 = (0.125 * 0.004 * PRICE_PER_GB_SECOND_USD + PRICE_PER_REQUEST_USD) * 1e6;
        assert!((sizes[0].cost_per_million_usd - at_128).abs() < 1e-9, "{sizes:?}");
        assert_eq!(choose(&f, None).map(|s| s.memory_mb), Some(512));
    }

    #[test]
    fn the_smallest_size_is_kept_when_larger_ones_are_not_noticeably_faster() {
        let f = figures(&[(128, 10.0, 1.0, 2.5), (256, 9.0, 1.0, 2.0), (512, 8.5, 1.0, 1.9), (1_024, 8.4, 1.0, 1.9)]);
        assert!(priced(&f).iter().all(|s| s.fast));
        assert_eq!(choose(&f, None).map(|s| s.memory_mb), Some(128));
        assert!(markdown(&[f], &BTreeMap::new()).contains("| f | 10.0 / 2.5, $0.202 ✓ |"));
    }

    #[test]
    fn where_no_size_is_fast_on_both_the_quickest_overall_is_chosen() {
        let f = figures(&[
            (128, 104.0, 46.0, 703.0),
            (256, 59.0, 30.0, 44.0),
            (512, 47.0, 25.0, 31.0),
            (1_024, 36.0, 31.0, 45.0),
        ]);
        assert!(priced(&f).iter().all(|s| !s.fast), "{:?}", priced(&f));
        assert_eq!(choose(&f, None).map(|s| s.memory_mb), Some(512));
        // Neither fast: 512 MB is the quicker (73 against 74 ms), 256 MB within twice the tolerance and cheaper.
        let close = figures(&[(256, 44.0, 20.0, 30.0), (512, 30.0, 20.0, 43.0)]);
        assert_eq!(choose(&close, None).map(|s| s.memory_mb), Some(512));
        assert_eq!(choose(&close, Some(256)).map(|s| s.memory_mb), Some(256));
    }

    #[test]
    fn nothing_is_chosen_without_figures() {
        assert_eq!(choose(&figures(&[]), Some(512)), None);
    }

    #[test]
    fn the_declared_size_is_kept_while_it_is_fast_and_costs_little_more() {
        // 128 MB is too slow; 256, 512 and 1,024 MB are fast; 256 MB is the cheapest.
        let f =
            figures(&[(128, 40.0, 2.0, 20.0), (256, 14.0, 1.5, 4.0), (512, 13.0, 1.2, 3.5), (1_024, 12.5, 1.1, 3.4)]);
        assert_eq!(choose(&f, None).map(|s| s.memory_mb), Some(256));
        assert_eq!(choose(&f, Some(512)).map(|s| s.memory_mb), Some(512), "fast and 3 % dearer: kept");
        assert_eq!(choose(&f, Some(128)).map(|s| s.memory_mb), Some(256), "too slow to keep: moved");
        // One run's stall puts 512 MB's p99 outside the tolerance but inside twice it: kept; a
        // function not yet at 512 MB does not move there.
        let stalled = figures(&[(256, 14.0, 1.5, 4.0), (512, 13.0, 1.2, 12.0), (1_024, 12.5, 1.1, 3.4)]);
        assert!(!priced(&stalled)[1].fast && priced(&stalled)[1].keepable);
        assert_eq!(choose(&stalled, Some(512)).map(|s| s.memory_mb), Some(512));
        assert_eq!(choose(&stalled, Some(1_024)).map(|s| s.memory_mb), Some(1_024));
        assert_eq!(choose(&stalled, None).map(|s| s.memory_mb), Some(256));
        let worse = figures(&[(256, 14.0, 1.5, 4.0), (512, 13.0, 1.2, 14.0), (1_024, 12.5, 1.1, 3.4)]);
        assert_eq!(choose(&worse, Some(512)).map(|s| s.memory_mb), Some(256), "outside twice the tolerance: moved");
        assert_eq!(choose(&f, Some(2_048)).map(|s| s.memory_mb), Some(256), "not measured: moved");
        // At a 30 ms billed duration 1,024 MB costs 0.60 USD per million against 256 MB's 0.30: moved.
        let slow = figures(&[(256, 40.0, 29.5, 45.0), (1_024, 38.0, 29.5, 44.0)]);
        assert_eq!(choose(&slow, Some(1_024)).map(|s| s.memory_mb), Some(256));
        let declared = BTreeMap::from([("f".to_owned(), 512)]);
        assert!(markdown(&[f], &declared).contains("| 512 MB |"));
    }

    const TEMPLATE: &str = "Resources:\n  OneFunction:\n    Type: AWS::Serverless::Function\n    Properties:\n      \
        CodeUri: functions/one\n      Timeout: !FindInMap [T, One, Seconds]\n      MemorySize: 256\n  OneLogs:\n    \
        Type: AWS::Logs::LogGroup\n  TwoFunction:\n    Type: AWS::Serverless::Function\n    Properties:\n      \
        MemorySize: 1024\n      CodeUri: functions/two\n  ThreeFunction:\n    Type: AWS::Serverless::Function\n    \
        Properties:\n      CodeUri: functions/three\nOutputs:\n  MemorySize: 1\n";

    #[test]
    fn the_declared_sizes_are_read_by_each_functions_code_uri() {
        let sizes = declared_sizes(TEMPLATE).unwrap();
        assert_eq!(sizes, BTreeMap::from([("one".to_owned(), 256), ("two".to_owned(), 1_024)]));
        assert!(declared_sizes("Resources: [").is_err());
    }

    #[test]
    fn a_declared_size_is_rewritten_in_its_own_resource_only() {
        let one = with_declared_size(TEMPLATE, "one", 512).unwrap();
        assert_eq!(one, TEMPLATE.replace("MemorySize: 256", "MemorySize: 512"));
        // MemorySize before CodeUri, in the last function resource before Outputs.
        let two = with_declared_size(TEMPLATE, "two", 128).unwrap();
        assert_eq!(two, TEMPLATE.replace("MemorySize: 1024", "MemorySize: 128"));
        assert_eq!(declared_sizes(&two).unwrap()["two"], 128);
        assert_eq!(with_declared_size(TEMPLATE, "three", 512), None, "no MemorySize line to rewrite");
        let commented = TEMPLATE.replace("MemorySize: 256\n", "MemorySize: 256  # chosen by the bench\n");
        let rewritten = with_declared_size(&commented, "one", 512).unwrap();
        assert!(rewritten.contains("MemorySize: 512  # chosen by the bench\n"), "{rewritten}");
        assert_eq!(with_declared_size(TEMPLATE, "four", 512), None, "no such function");
    }
}

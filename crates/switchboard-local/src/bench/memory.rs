//! Each function's `MemorySize`, chosen from its figures under Lambda's CPU model, as AWS Lambda
//! Power Tuning does: what an invocation costs at each size against what a caller waits for.
//!
//! The rule: of the sizes whose cold total and warm p99 (under the 20 ms scheduler period, the
//! pessimistic end of the range) are within [`LATENCY_TOLERANCE`] of the best size's, the cheapest per
//! million warm invocations; where no size is within it on both, the one with the least cold total +
//! warm p99. Cost = billed duration (warm p50 rounded up to the millisecond, as Lambda
//! bills) × memory × the GB-second price, + the request price. At these durations the request price
//! dominates, so a larger size costs little more and is taken whenever it is clearly faster.

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
}

/// The sizes measured for `figures` (at [`CHOICE_PERIOD_MS`]), smallest first, each priced and
/// marked fast or not.
pub fn priced(figures: &Figures) -> Vec<SizeCost> {
    let mut sizes: Vec<&ModelFigures> = figures.lambda.iter().filter(|m| m.period_ms == CHOICE_PERIOD_MS).collect();
    sizes.sort_by_key(|m| m.memory_mb);
    let best = |value: fn(&ModelFigures) -> f64| sizes.iter().map(|m| value(m)).fold(f64::INFINITY, f64::min);
    let (best_cold, best_warm) = (best(|m| m.cold_total_ms), best(|m| m.warm_p99_ms));
    let within = |value: f64, best: f64| value <= best + (best * LATENCY_TOLERANCE.0).max(LATENCY_TOLERANCE.1);
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
                fast: within(m.cold_total_ms, best_cold) && within(m.warm_p99_ms, best_warm),
            }
        })
        .collect()
}

/// The size to deploy `figures`' function with: the cheapest fast one (ties: the smaller), else the
/// quickest on cold total + warm p99.
pub fn choose(figures: &Figures) -> Option<SizeCost> {
    let sizes = priced(figures);
    let cheapest_fast = sizes
        .iter()
        .filter(|s| s.fast)
        .min_by(|a, b| a.cost_per_million_usd.total_cmp(&b.cost_per_million_usd).then(a.memory_mb.cmp(&b.memory_mb)));
    let quickest =
        || sizes.iter().min_by(|a, b| (a.cold_total_ms + a.warm_p99_ms).total_cmp(&(b.cold_total_ms + b.warm_p99_ms)));
    cheapest_fast.or_else(quickest).copied()
}

/// The choice table for results.md.
pub fn markdown(functions: &[Figures]) -> String {
    let mut out = String::from(
        "\nMemory size per function (`bench::memory`: of the sizes within 25 % or 5 ms of the best cold total and \
         warm p99 at the 20 ms period, the cheapest per million warm invocations, else the least cold total + warm p99; arm64 prices). Each cell: \
         cold total / warm p99 ms, USD per million; ✓ = fast enough; the choice is template.yaml's `MemorySize`:\n\n\
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
        let chosen = choose(f).map_or("—".to_owned(), |s| format!("{} MB", s.memory_mb));
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
        assert_eq!(choose(&f).map(|s| s.memory_mb), Some(512));
    }

    #[test]
    fn the_smallest_size_is_kept_when_larger_ones_are_not_noticeably_faster() {
        let f = figures(&[(128, 10.0, 1.0, 2.5), (256, 9.0, 1.0, 2.0), (512, 8.5, 1.0, 1.9), (1_024, 8.4, 1.0, 1.9)]);
        assert!(priced(&f).iter().all(|s| s.fast));
        assert_eq!(choose(&f).map(|s| s.memory_mb), Some(128));
        assert!(markdown(&[f]).contains("| f | 10.0 / 2.5, $0.202 ✓ |"));
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
        assert_eq!(choose(&f).map(|s| s.memory_mb), Some(512));
    }

    #[test]
    fn nothing_is_chosen_without_figures() {
        assert_eq!(choose(&figures(&[])), None);
    }
}

//! Percentiles of measured times and samples, for both binaries.

/// Sorts `values` ascending (total order: a NaN sorts last), ready for [`percentile`].
pub fn sort(values: &mut [f64]) {
    values.sort_by(f64::total_cmp);
}

/// The `p` quantile (0 to 1) of `sorted` by nearest rank; `None` when there is no value
/// (each caller says what an empty set shows as).
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    Some(sorted[i.min(sorted.len() - 1)])
}

/// The median of `values`, in any order.
pub fn median(mut values: Vec<f64>) -> Option<f64> {
    sort(&mut values);
    percentile(&values, 0.5)
}

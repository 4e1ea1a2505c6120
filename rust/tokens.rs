//! Per-token credit weights from weighted character spans (the code lines blamed for defects).
//!
//! A token `[t0, t1)` touches a span `[s0, s1)` when they share a character: `s0 < t1 && s1 > t0`.
//! For non-empty ranges, `{s0 < t1}` contains every span with `s1 <= t0`, so the weight of the
//! touching spans is `W(s0 < t1) - W(s1 <= t0)`: two binary searches in prefix sums.

use ndarray::{ArrayView1, ArrayView2};
use rayon::prelude::*;

use crate::error::{KResult, KernelError};

/// Spans prepared for lookups: starts and ends sorted, each with a running sum of weights.
struct SpanIndex {
    starts: Vec<i64>,
    start_cum: Vec<f64>, // start_cum[k] = sum of weights of the k smallest starts
    ends: Vec<i64>,
    end_cum: Vec<f64>,
}

impl SpanIndex {
    fn new(spans: &[(i64, i64, f64)]) -> Self {
        let live: Vec<&(i64, i64, f64)> = spans.iter().filter(|s| s.1 > s.0).collect();
        let mut by_start: Vec<(i64, f64)> = live.iter().map(|s| (s.0, s.2)).collect();
        let mut by_end: Vec<(i64, f64)> = live.iter().map(|s| (s.1, s.2)).collect();
        by_start.sort_unstable_by_key(|s| s.0);
        by_end.sort_unstable_by_key(|s| s.0);
        let cum = |v: &[(i64, f64)]| {
            let mut acc = 0.0;
            std::iter::once(0.0)
                .chain(v.iter().map(|s| {
                    acc += s.1;
                    acc
                }))
                .collect::<Vec<f64>>()
        };
        SpanIndex {
            start_cum: cum(&by_start),
            end_cum: cum(&by_end),
            starts: by_start.into_iter().map(|s| s.0).collect(),
            ends: by_end.into_iter().map(|s| s.0).collect(),
        }
    }

    /// Total weight of the spans that share a character with `[t0, t1)`.
    fn weight(&self, t0: i64, t1: i64) -> f64 {
        if t1 <= t0 || self.starts.is_empty() {
            return 0.0;
        }
        let started = self.starts.partition_point(|&s| s < t1);
        let ended = self.ends.partition_point(|&e| e <= t0);
        self.start_cum[started] - self.end_cum[ended]
    }
}

fn read_ranges(view: &ArrayView2<i64>, name: &str) -> KResult<Vec<(i64, i64)>> {
    if view.ncols() != 2 {
        return Err(KernelError::arg(
            name,
            format!("expected shape (N, 2), got {:?}", view.shape()),
        ));
    }
    view.rows()
        .into_iter()
        .enumerate()
        .map(|(k, r)| {
            let (a, b) = (r[0], r[1]);
            if a < 0 || b < a {
                Err(KernelError::arg(
                    name,
                    format!("row {k} is not a character range [start, end) with 0 <= start <= end: ({a}, {b})"),
                ))
            } else {
                Ok((a, b))
            }
        })
        .collect()
}

fn read_spans(spans: &ArrayView2<i64>, weights: &ArrayView1<f32>) -> KResult<Vec<(i64, i64, f64)>> {
    let ranges = read_ranges(spans, "spans")?;
    if weights.len() != ranges.len() {
        return Err(KernelError::arg(
            "span_weights",
            format!(
                "expected one weight per span ({}), got {}",
                ranges.len(),
                weights.len()
            ),
        ));
    }
    ranges
        .into_iter()
        .zip(weights.iter())
        .enumerate()
        .map(|(k, ((a, b), &w))| {
            if w.is_finite() {
                Ok((a, b, w as f64))
            } else {
                Err(KernelError::arg(
                    "span_weights",
                    format!("entry {k} is not finite ({w})"),
                ))
            }
        })
        .collect()
}

fn check_base(base: f64) -> KResult<()> {
    if base.is_finite() {
        Ok(())
    } else {
        Err(KernelError::arg(
            "base",
            format!("expected a finite number, got {base}"),
        ))
    }
}

fn fill(out: &mut [f32], tokens: &[(i64, i64)], spans: &[(i64, i64, f64)], base: f64) {
    let index = SpanIndex::new(spans);
    for (w, &(t0, t1)) in out.iter_mut().zip(tokens) {
        *w = (base + index.weight(t0, t1)) as f32;
    }
}

pub fn token_weights(
    token_offsets: &ArrayView2<i64>,
    spans: &ArrayView2<i64>,
    span_weights: &ArrayView1<f32>,
    base: f64,
) -> KResult<Vec<f32>> {
    check_base(base)?;
    let tokens = read_ranges(token_offsets, "token_offsets")?;
    let spans = read_spans(spans, span_weights)?;
    let mut out = vec![0.0f32; tokens.len()];
    fill(&mut out, &tokens, &spans, base);
    Ok(out)
}

/// Check CSR splits: `[0, ..., rows]`, never decreasing.
fn read_splits(
    splits: &ArrayView1<i64>,
    rows: usize,
    name: &str,
    rows_name: &str,
) -> KResult<Vec<usize>> {
    let s: Vec<i64> = splits.iter().copied().collect();
    if s.is_empty() {
        return Err(KernelError::arg(
            name,
            "expected at least one entry (the leading 0)",
        ));
    }
    if s[0] != 0 {
        return Err(KernelError::arg(
            name,
            format!("must start at 0, got {}", s[0]),
        ));
    }
    if let Some(k) = (1..s.len()).find(|&k| s[k] < s[k - 1]) {
        return Err(KernelError::arg(
            name,
            format!(
                "must never decrease, but entry {k} ({}) < entry {} ({})",
                s[k],
                k - 1,
                s[k - 1]
            ),
        ));
    }
    let last = *s.last().expect("non-empty");
    if last != rows as i64 {
        return Err(KernelError::arg(
            name,
            format!("must end at the number of rows of {rows_name} ({rows}), got {last}"),
        ));
    }
    Ok(s.into_iter().map(|v| v as usize).collect())
}

pub fn token_weights_batch(
    token_offsets: &ArrayView2<i64>,
    token_splits: &ArrayView1<i64>,
    spans: &ArrayView2<i64>,
    span_weights: &ArrayView1<f32>,
    span_splits: &ArrayView1<i64>,
    base: f64,
) -> KResult<Vec<f32>> {
    check_base(base)?;
    let tokens = read_ranges(token_offsets, "token_offsets")?;
    let spans = read_spans(spans, span_weights)?;
    let tsplit = read_splits(token_splits, tokens.len(), "token_splits", "token_offsets")?;
    let ssplit = read_splits(span_splits, spans.len(), "span_splits", "spans")?;
    if tsplit.len() != ssplit.len() {
        return Err(KernelError::arg(
            "span_splits",
            format!(
                "expected as many entries as token_splits ({}, one per rollout plus one), got {}",
                tsplit.len(),
                ssplit.len()
            ),
        ));
    }

    // Carve the output into one disjoint slice per rollout, then fill them in parallel.
    let mut out = vec![0.0f32; tokens.len()];
    let mut slices: Vec<&mut [f32]> = Vec::with_capacity(tsplit.len().saturating_sub(1));
    let mut rest: &mut [f32] = &mut out;
    for b in 0..tsplit.len().saturating_sub(1) {
        let (head, tail) = rest.split_at_mut(tsplit[b + 1] - tsplit[b]);
        slices.push(head);
        rest = tail;
    }
    slices.into_par_iter().enumerate().for_each(|(b, slice)| {
        fill(
            slice,
            &tokens[tsplit[b]..tsplit[b + 1]],
            &spans[ssplit[b]..ssplit[b + 1]],
            base,
        );
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn tokens_touching_a_span_get_its_weight() {
        let tok = array![[0i64, 3], [3, 6], [6, 9], [0, 0]];
        let spans = array![[4i64, 7]];
        let w = array![0.5f32];
        let got = token_weights(&tok.view(), &spans.view(), &w.view(), 1.0).unwrap();
        assert_eq!(got, vec![1.0, 1.5, 1.5, 1.0]);
    }

    #[test]
    fn overlapping_spans_add_up_and_empty_spans_do_nothing() {
        let tok = array![[0i64, 10]];
        let spans = array![[0i64, 2], [1, 5], [9, 12], [3, 3]];
        let w = array![1.0f32, 2.0, 4.0, 100.0];
        assert_eq!(
            token_weights(&tok.view(), &spans.view(), &w.view(), 0.0).unwrap(),
            vec![7.0]
        );
    }

    #[test]
    fn batch_equals_per_rollout() {
        let tok = array![[0i64, 2], [2, 4], [0, 2], [2, 4]];
        let spans = array![[0i64, 1], [3, 4]];
        let w = array![1.0f32, 2.0];
        let got = token_weights_batch(
            &tok.view(),
            &array![0i64, 2, 4].view(),
            &spans.view(),
            &w.view(),
            &array![0i64, 1, 2].view(),
            1.0,
        )
        .unwrap();
        assert_eq!(got, vec![2.0, 1.0, 1.0, 3.0]);
    }

    #[test]
    fn bad_splits_name_the_argument() {
        let tok = array![[0i64, 2], [2, 4]];
        let spans = ndarray::Array2::<i64>::zeros((0, 2));
        let w = ndarray::Array1::<f32>::zeros(0);
        let call = |ts: ndarray::Array1<i64>, ss: ndarray::Array1<i64>| {
            token_weights_batch(
                &tok.view(),
                &ts.view(),
                &spans.view(),
                &w.view(),
                &ss.view(),
                1.0,
            )
        };
        assert!(call(array![1, 2], array![0, 0])
            .unwrap_err()
            .0
            .starts_with("token_splits: must start at 0"));
        assert!(call(array![0, 3], array![0, 0])
            .unwrap_err()
            .0
            .contains("must end at"));
        assert!(call(array![0, 2, 1, 2], array![0, 0, 0, 0])
            .unwrap_err()
            .0
            .contains("never decrease"));
        assert!(call(array![0, 2], array![0, 0, 0])
            .unwrap_err()
            .0
            .starts_with("span_splits"));
        let neg = array![[-1i64, 2]];
        assert!(token_weights(&neg.view(), &spans.view(), &w.view(), 1.0)
            .unwrap_err()
            .0
            .starts_with("token_offsets"));
    }
}

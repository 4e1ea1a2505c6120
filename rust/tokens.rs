//! Per-token credit weights from weighted character spans (the code lines blamed for defects).
//!
//! A token `[t0, t1)` touches a span `[s0, s1)` when they share a character: `s0 < t1 && s1 > t0`.
//! For non-empty ranges, `{s0 < t1}` contains every span with `s1 <= t0`, so the weight of the
//! touching spans is `W(s0 < t1) - W(s1 <= t0)`, read from running sums over the span starts
//! and ends (the general path, any token order).
//!
//! Tokenizer offsets never step backwards, and then a span touches a contiguous run of tokens
//! `[a, b)`: `a` is the first token ending after the span starts, `b` the first starting at or
//! after its end. With the spans sorted by start, `a` only moves forward, so one merge finds
//! every run and the weight is added along it (the fast path: O(T + S log S + covered tokens)).

use std::borrow::Cow;

use ndarray::{ArrayView1, ArrayView2};
use rayon::prelude::*;

use crate::error::{KResult, KernelError};

/// Spans prepared for lookups: starts and ends sorted, each with a running sum of weights.
struct SpanIndex {
    starts: Vec<i64>,
    start_cum: Vec<f64>, // start_cum[k] = sum of the weights of the k smallest starts
    ends: Vec<i64>,
    end_cum: Vec<f64>,
}

impl SpanIndex {
    /// `spans` is a flat `[S, 2]` slice, already validated; empty spans touch nothing.
    fn new(spans: &[i64], weights: &[f32]) -> Self {
        let live = || {
            spans
                .chunks_exact(2)
                .zip(weights)
                .filter(|(s, _)| s[1] > s[0])
        };
        let mut by_start: Vec<(i64, f32)> = live().map(|(s, &w)| (s[0], w)).collect();
        let mut by_end: Vec<(i64, f32)> = live().map(|(s, &w)| (s[1], w)).collect();
        // Blamed lines usually arrive in order: sort only when they don't.
        for v in [&mut by_start, &mut by_end] {
            if !v.windows(2).all(|w| w[0].0 <= w[1].0) {
                v.sort_unstable_by_key(|s| s.0);
            }
        }
        let cum = |v: &[(i64, f32)]| {
            let mut acc = 0.0f64;
            std::iter::once(0.0)
                .chain(v.iter().map(|s| {
                    acc += s.1 as f64;
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

    /// Write `base + weight of touching spans` for each token of a flat `[T, 2]` slice.
    fn fill(&self, tokens: &[i64], base: f64, out: &mut [f32]) {
        let (mut started, mut ended) = (0usize, 0usize);
        let (mut last_t0, mut last_t1) = (i64::MIN, i64::MIN);
        for (w, t) in out.iter_mut().zip(tokens.chunks_exact(2)) {
            let (t0, t1) = (t[0], t[1]);
            if t1 <= t0 {
                *w = base as f32; // empty (special) tokens carry no characters
                continue;
            }
            if t1 < last_t1 {
                started = self.starts.partition_point(|&s| s < t1);
            } else {
                while started < self.starts.len() && self.starts[started] < t1 {
                    started += 1;
                }
            }
            if t0 < last_t0 {
                ended = self.ends.partition_point(|&e| e <= t0);
            } else {
                while ended < self.ends.len() && self.ends[ended] <= t0 {
                    ended += 1;
                }
            }
            (last_t0, last_t1) = (t0, t1);
            *w = (base + self.start_cum[started] - self.end_cum[ended]) as f32;
        }
    }
}

/// Reusable per-thread buffers for the fast path.
#[derive(Default)]
struct Scratch {
    live: Vec<u32>, // indices of the non-empty tokens (only when some are empty)
    order: Vec<(i64, i64, f32)>, // non-empty spans sorted by start
    keys: Vec<u64>, // packed (start, position) sort keys
}

/// Sort spans by start. Packed `start << 24 | position` integer keys are much cheaper to sort
/// than the tuples; spans beyond what the packing holds fall back to a plain sort.
fn sort_by_start(spans: &mut Vec<(i64, i64, f32)>, keys: &mut Vec<u64>) {
    const POSITION_BITS: u32 = 24;
    let fits = spans.len() < (1 << POSITION_BITS)
        && spans
            .iter()
            .all(|s| (s.0 as u64) < (1u64 << (64 - POSITION_BITS)));
    if !fits {
        spans.sort_unstable_by_key(|s| s.0);
        return;
    }
    keys.clear();
    keys.extend(
        spans
            .iter()
            .enumerate()
            .map(|(k, s)| ((s.0 as u64) << POSITION_BITS) | k as u64),
    );
    keys.sort_unstable();
    let sorted: Vec<(i64, i64, f32)> = keys
        .iter()
        .map(|k| spans[(k & ((1 << POSITION_BITS) - 1)) as usize])
        .collect();
    *spans = sorted;
}

/// A row that is not a character range `[start, end)` with `0 <= start <= end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BadRow {
    Token(usize),
    Span(usize),
}

fn is_bad(r: &[i64]) -> bool {
    r[0] < 0 || r[1] < r[0]
}

fn first_bad(flat: &[i64]) -> Option<usize> {
    flat.chunks_exact(2).position(is_bad)
}

/// Fast path for tokens whose non-empty ranges never step backwards; returns false (writing
/// nothing) when they do, so the caller takes the general path. Validates the tokens it reads.
fn fill_monotone(
    tokens: &[i64],
    spans: &[i64],
    weights: &[f32],
    base: f64,
    out: &mut [f32],
    scratch: &mut Scratch,
) -> Result<bool, BadRow> {
    let Scratch { live, order, keys } = scratch;
    let (mut last0, mut last1, mut empty) = (i64::MIN, i64::MIN, 0usize);
    for (k, t) in tokens.chunks_exact(2).enumerate() {
        if is_bad(t) {
            return Err(BadRow::Token(k));
        }
        if t[1] > t[0] {
            if t[0] < last0 || t[1] < last1 {
                return Ok(false);
            }
            (last0, last1) = (t[0], t[1]);
        } else {
            empty += 1;
        }
    }
    order.clear();
    order.extend(
        spans
            .chunks_exact(2)
            .zip(weights)
            .filter(|(s, _)| s[1] > s[0])
            .map(|(s, &w)| (s[0], s[1], w)),
    );
    // Blamed lines usually arrive in order: sort only when they don't.
    if !order.windows(2).all(|p| p[0].0 <= p[1].0) {
        sort_by_start(order, keys);
    }
    out.fill(base as f32);
    if empty == 0 {
        // The usual case: every token is live, no index indirection.
        for_each_run(
            tokens.len() / 2,
            |k| k,
            tokens,
            order,
            |a, b, w| {
                out[a..b].iter_mut().for_each(|o| *o += w);
            },
        );
    } else {
        live.clear();
        live.extend(
            (0..tokens.len() / 2)
                .filter(|&k| tokens[2 * k + 1] > tokens[2 * k])
                .map(|k| k as u32),
        );
        for_each_run(
            live.len(),
            |k| live[k] as usize,
            tokens,
            order,
            |a, b, w| {
                live[a..b].iter().for_each(|&i| out[i as usize] += w);
            },
        );
    }
    Ok(true)
}

/// Find each span's run `[a, b)` of touching tokens and hand it to `add`. Spans come sorted
/// by start, so `a` (the first token ending after the span starts) only moves forward; the run
/// ends at the first token starting at or after the span's end. `token(k)` is the index (in
/// `tokens`) of the k-th of the `n` live tokens.
fn for_each_run(
    n: usize,
    token: impl Fn(usize) -> usize,
    tokens: &[i64],
    spans: &[(i64, i64, f32)],
    mut add: impl FnMut(usize, usize, f32),
) {
    let mut a = 0;
    for &(s0, s1, w) in spans {
        while a < n && tokens[2 * token(a) + 1] <= s0 {
            a += 1;
        }
        let mut b = a;
        while b < n && tokens[2 * token(b)] < s1 {
            b += 1;
        }
        add(a, b, w);
    }
}

/// Weights of one rollout's tokens: the fast path when it applies, else the general one.
/// Validation happens here, inside the (parallel) per-rollout work, not in extra passes.
fn fill(
    tokens: &[i64],
    spans: &[i64],
    weights: &[f32],
    base: f64,
    out: &mut [f32],
    scratch: &mut Scratch,
) -> Result<(), BadRow> {
    if let Some(k) = first_bad(spans) {
        return Err(BadRow::Span(k));
    }
    if !fill_monotone(tokens, spans, weights, base, out, scratch)? {
        if let Some(k) = first_bad(tokens) {
            return Err(BadRow::Token(k));
        }
        SpanIndex::new(spans, weights).fill(tokens, base, out);
    }
    Ok(())
}

/// The error for a bad row, numbered in the caller's arrays.
fn bad_row_error(
    bad: BadRow,
    tokens: &[i64],
    spans: &[i64],
    token_row0: usize,
    span_row0: usize,
) -> KernelError {
    let (name, flat, row) = match bad {
        BadRow::Token(k) => ("token_offsets", tokens, token_row0 + k),
        BadRow::Span(k) => ("spans", spans, span_row0 + k),
    };
    KernelError::arg(
        name,
        format!(
            "row {row} is not a character range [start, end) with 0 <= start <= end: ({}, {})",
            flat[2 * row],
            flat[2 * row + 1]
        ),
    )
}

fn flat2<'a>(view: &'a ArrayView2<i64>, name: &str) -> KResult<Cow<'a, [i64]>> {
    if view.ncols() != 2 {
        return Err(KernelError::arg(
            name,
            format!("expected shape (N, 2), got {:?}", view.shape()),
        ));
    }
    Ok(match view.as_slice() {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(view.iter().copied().collect()),
    })
}

fn read_weights<'a>(weights: &'a ArrayView1<f32>, n_spans: usize) -> KResult<Cow<'a, [f32]>> {
    if weights.len() != n_spans {
        return Err(KernelError::arg(
            "span_weights",
            format!(
                "expected one weight per span ({n_spans}), got {}",
                weights.len()
            ),
        ));
    }
    if let Some(k) = weights.iter().position(|w| !w.is_finite()) {
        return Err(KernelError::arg(
            "span_weights",
            format!("entry {k} is not finite ({})", weights[k]),
        ));
    }
    Ok(match weights.as_slice() {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(weights.iter().copied().collect()),
    })
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

/// Tokens, spans and weights as flat slices, with the checks that need no pass over the rows.
type Inputs<'a> = (Cow<'a, [i64]>, Cow<'a, [i64]>, Cow<'a, [f32]>);

fn read_inputs<'a>(
    token_offsets: &'a ArrayView2<i64>,
    spans: &'a ArrayView2<i64>,
    span_weights: &'a ArrayView1<f32>,
    base: f64,
) -> KResult<Inputs<'a>> {
    check_base(base)?;
    let tokens = flat2(token_offsets, "token_offsets")?;
    let spans = flat2(spans, "spans")?;
    let weights = read_weights(span_weights, spans.len() / 2)?;
    Ok((tokens, spans, weights))
}

pub fn token_weights(
    token_offsets: &ArrayView2<i64>,
    spans: &ArrayView2<i64>,
    span_weights: &ArrayView1<f32>,
    base: f64,
) -> KResult<Vec<f32>> {
    let (tokens, spans, weights) = read_inputs(token_offsets, spans, span_weights, base)?;
    let mut out = vec![0.0f32; tokens.len() / 2];
    fill(
        &tokens,
        &spans,
        &weights,
        base,
        &mut out,
        &mut Scratch::default(),
    )
    .map_err(|bad| bad_row_error(bad, &tokens, &spans, 0, 0))?;
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
    let (tokens, spans, weights) = read_inputs(token_offsets, spans, span_weights, base)?;
    let tsplit = read_splits(
        token_splits,
        tokens.len() / 2,
        "token_splits",
        "token_offsets",
    )?;
    let ssplit = read_splits(span_splits, spans.len() / 2, "span_splits", "spans")?;
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
    let mut out = vec![0.0f32; tokens.len() / 2];
    let mut slices: Vec<&mut [f32]> = Vec::with_capacity(tsplit.len().saturating_sub(1));
    let mut rest: &mut [f32] = &mut out;
    for b in 0..tsplit.len().saturating_sub(1) {
        let (head, tail) = rest.split_at_mut(tsplit[b + 1] - tsplit[b]);
        slices.push(head);
        rest = tail;
    }
    let failures: Vec<(usize, BadRow)> = slices
        .into_par_iter()
        .enumerate()
        .map_init(Scratch::default, |scratch, (b, slice)| {
            let (s0, s1) = (ssplit[b], ssplit[b + 1]);
            let toks = &tokens[2 * tsplit[b]..2 * tsplit[b + 1]];
            fill(
                toks,
                &spans[2 * s0..2 * s1],
                &weights[s0..s1],
                base,
                slice,
                scratch,
            )
            .err()
            .map(|bad| (b, bad))
        })
        .flatten()
        .collect();
    if let Some(&(b, bad)) = failures.iter().min_by_key(|f| f.0) {
        return Err(bad_row_error(bad, &tokens, &spans, tsplit[b], ssplit[b]));
    }
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
    fn unsorted_tokens_match_brute_force() {
        let tok = array![[5i64, 7], [0, 3], [6, 9], [2, 2], [1, 8], [8, 12]];
        let spans = array![[0i64, 2], [6, 7], [2, 6], [10, 11]];
        let w = array![1.0f32, 2.0, 4.0, 8.0];
        let got = token_weights(&tok.view(), &spans.view(), &w.view(), 0.5).unwrap();
        let want: Vec<f32> =
            tok.rows()
                .into_iter()
                .map(|t| {
                    let touching =
                        spans.rows().into_iter().zip(w.iter()).filter(|(s, _)| {
                            s[0] < t[1] && s[1] > t[0] && t[1] > t[0] && s[1] > s[0]
                        });
                    0.5 + touching.map(|(_, &w)| w).sum::<f32>()
                })
                .collect();
        assert_eq!(got, want);
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

//! Splitting box indices into rollout groups, so that kernels can work on each group alone
//! (and in parallel) without ever pairing boxes of different rollouts.

use ndarray::ArrayView1;

use crate::error::{KResult, KernelError};

/// Indices `0..n` partitioned by group id, groups in increasing id order, indices ascending
/// within a group. `None` puts everything in one group.
pub fn partition(groups: Option<&ArrayView1<i32>>, n: usize) -> KResult<Vec<Vec<u32>>> {
    if n > u32::MAX as usize {
        return Err(KernelError::arg(
            "boxes",
            format!("at most {} boxes are supported, got {n}", u32::MAX),
        ));
    }
    let Some(g) = groups else {
        return Ok(if n == 0 {
            vec![]
        } else {
            vec![(0..n as u32).collect()]
        });
    };
    if g.len() != n {
        return Err(KernelError::arg(
            "groups",
            format!("expected one group id per box ({n}), got {}", g.len()),
        ));
    }
    let mut order: Vec<u32> = (0..n as u32).collect();
    // Rollout groups usually arrive as contiguous runs in increasing id order: then no sort.
    let sorted = g.iter().zip(g.iter().skip(1)).all(|(a, b)| a <= b);
    if !sorted {
        order.sort_by_key(|&i| (g[i as usize], i));
    }
    let mut out: Vec<Vec<u32>> = Vec::new();
    let mut last: Option<i32> = None;
    for i in order {
        let id = g[i as usize];
        if last != Some(id) {
            out.push(Vec::new());
            last = Some(id);
        }
        out.last_mut().expect("pushed above").push(i);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn groups_are_sorted_and_complete() {
        let g = array![3, -1, 3, 0, -1];
        let parts = partition(Some(&g.view()), 5).unwrap();
        assert_eq!(parts, vec![vec![1, 4], vec![3], vec![0, 2]]);
        assert_eq!(partition(None, 3).unwrap(), vec![vec![0, 1, 2]]);
        assert!(partition(None, 0).unwrap().is_empty());
        assert!(partition(Some(&g.view()), 4).is_err());
    }
}

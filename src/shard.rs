//! Scale-out on an existing scheduler: `--shard K/N` splits the selected cards into N disjoint
//! shards, deterministically, so a Slurm job array or GNU parallel runs them as N independent
//! processes whose reports `report --merge` joins into the unsharded report.
//!
//! The split: the selected cards are sorted by id and card `i` (0-based position in that order)
//! goes to shard `i mod N + 1`. K is 1-based (`1/N … N/N`, matching `SLURM_ARRAY_TASK_ID` of
//! `--array=1-N`). A card is never split across shards (its grid and negative controls run in one
//! process), and a shard may be empty when N exceeds the number of cards — an empty shard is a
//! valid run with no outcomes, not an error.

use crate::claims::Card;
use crate::error::{InputError, InputResult};
use serde::{Deserialize, Serialize};

/// The largest shard count accepted (a job array of more tasks than cards only adds empty shards).
pub const MAX_SHARDS: usize = 10_000;

/// Shard `index` of `count` (1-based), with the size of the selection it was cut from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// K, in 1..=N.
    pub index: usize,
    /// N ≥ 1.
    pub count: usize,
    /// The number of cards selected before sharding (the same in every shard of a run; 0 before
    /// [`Shard::select`]). `report --merge` uses it to detect a missing shard.
    #[serde(default)]
    pub selected: usize,
}

impl Shard {
    /// Parses `K/N` with 1 ≤ K ≤ N ≤ [`MAX_SHARDS`]; errors name `--shard`.
    pub fn parse(text: &str) -> InputResult<Self> {
        let bad =
            |why: &str| InputError::new("--shard", format!("'{text}': {why} (expected K/N with 1 ≤ K ≤ N, e.g. 3/8)"));
        let (k, n) = text.split_once('/').ok_or_else(|| bad("no '/'"))?;
        let k: usize = k.trim().parse().map_err(|_| bad("K is not a whole number"))?;
        let n: usize = n.trim().parse().map_err(|_| bad("N is not a whole number"))?;
        if n == 0 || n > MAX_SHARDS {
            return Err(bad(&format!("N must lie in 1..={MAX_SHARDS}")));
        }
        if k == 0 || k > n {
            return Err(bad("K must lie in 1..=N (shards are numbered from 1)"));
        }
        Ok(Self { index: k, count: n, selected: 0 })
    }

    /// The cards of this shard: `cards` sorted by id, every N-th starting at position K − 1.
    /// Records the size of the selection in `self.selected`.
    pub fn select(&mut self, mut cards: Vec<Card>) -> Vec<Card> {
        self.selected = cards.len();
        cards.sort_by(|a, b| a.id.cmp(&b.id));
        cards.into_iter().enumerate().filter(|(i, _)| i % self.count == self.index - 1).map(|(_, c)| c).collect()
    }

    /// How many of `selected` cards shard K of N holds: ⌈(selected − K + 1) / N⌉.
    pub fn expected_len(&self) -> usize {
        (self.selected + self.count).saturating_sub(self.index) / self.count
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_valid_and_rejects_bad_shards_naming_the_flag() {
        assert_eq!(Shard::parse("3/8").unwrap(), Shard { index: 3, count: 8, selected: 0 });
        assert_eq!(Shard::parse("1/1").unwrap().count, 1);
        for bad in ["0/4", "5/4", "1/0", "4", "a/4", "1/b", "-1/4", "1/4/2", ""] {
            let e = Shard::parse(bad).unwrap_err();
            assert!(e.to_string().contains("--shard"), "{bad}: {e}");
        }
    }

    #[test]
    fn expected_len_counts_positions_congruent_to_k() {
        for selected in 0..12 {
            for count in 1..6 {
                let total: usize = (1..=count).map(|index| Shard { index, count, selected }.expected_len()).sum();
                assert_eq!(total, selected);
                for index in 1..=count {
                    let n = (0..selected).filter(|i| i % count == index - 1).count();
                    assert_eq!(Shard { index, count, selected }.expected_len(), n);
                }
            }
        }
    }
}

//! Step-size and noise schedules over a run of K optimizer steps: a factor `s(p)` of the run's
//! progress `p = k/K ∈ [0, 1]` that multiplies a base value (η, or the label noise σ).
//!
//! A schedule is written `KIND[:END][@FROM[-TO]]`: the factor is 1 before the fraction FROM of the
//! run, falls from 1 to END between FROM and TO by the shape KIND, and stays at END after TO.
//! KIND is `constant` (always 1), `linear`, `cosine` (`½(1 + cos πr)` blended to END) or
//! `exponential` (geometric, `END^r`, END > 0). Defaults: END = 0 (exponential: 0.01), FROM = 0,
//! TO = 1. Examples: `cosine:0@0.3-0.7` (hold, then anneal to 0 by 70 % of the run, then none);
//! `exponential:0.1` (η falls geometrically to η/10).

use crate::error::{InputError, InputResult};
use std::fmt;

/// The shape of the fall from 1 to END.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// No fall: the factor is 1 throughout.
    Constant,
    /// `1 − (1 − END)·r` over the fall's progress r ∈ [0, 1].
    Linear,
    /// `END + (1 − END)·½(1 + cos πr)`.
    Cosine,
    /// `END^r` (geometric; END > 0).
    Exponential,
}

/// A schedule: the factor `s(p)` of the run's progress p.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    /// The shape of the fall.
    pub shape: Shape,
    /// The factor after the fall.
    pub end: f64,
    /// The progress at which the fall starts.
    pub from: f64,
    /// The progress at which it ends.
    pub to: f64,
}

impl Default for Schedule {
    fn default() -> Self {
        Self::constant()
    }
}

impl Schedule {
    /// The constant schedule `s ≡ 1`.
    pub fn constant() -> Self {
        Self { shape: Shape::Constant, end: 1.0, from: 0.0, to: 1.0 }
    }

    /// Whether the factor is 1 throughout.
    pub fn is_constant(&self) -> bool {
        self.shape == Shape::Constant
    }

    /// The factor at progress `p` (clamped into [0, 1]).
    pub fn factor(&self, p: f64) -> f64 {
        if self.shape == Shape::Constant {
            return 1.0;
        }
        let p = p.clamp(0.0, 1.0);
        let r = if p <= self.from {
            0.0
        } else if p >= self.to {
            1.0
        } else {
            (p - self.from) / (self.to - self.from)
        };
        match self.shape {
            Shape::Constant => 1.0,
            Shape::Linear => 1.0 - (1.0 - self.end) * r,
            Shape::Cosine => self.end + (1.0 - self.end) * 0.5 * (1.0 + (std::f64::consts::PI * r).cos()),
            Shape::Exponential => self.end.powf(r),
        }
    }

    /// The factor of step `k + 1` of a run of `steps` steps (progress `k/K`).
    pub fn at_step(&self, k: u64, steps: u64) -> f64 {
        self.factor(k as f64 / steps.max(1) as f64)
    }

    /// Parses `KIND[:END][@FROM[-TO]]`; an error names `field`.
    pub fn parse(field: &str, text: &str) -> InputResult<Self> {
        let bad =
            |why: String| InputError::new(field, format!("{why} (expected KIND[:END][@FROM[-TO]], e.g. cosine:0@0.5)"));
        let (head, window) = match text.split_once('@') {
            Some((h, w)) => (h, Some(w)),
            None => (text, None),
        };
        let (kind, end) = match head.split_once(':') {
            Some((k, e)) => (k, Some(e)),
            None => (head, None),
        };
        let number = |what: &str, s: &str| -> InputResult<f64> {
            s.trim().parse::<f64>().map_err(|_| bad(format!("{what} `{s}` is not a number")))
        };
        let shape = match kind.trim() {
            "constant" => Shape::Constant,
            "linear" => Shape::Linear,
            "cosine" => Shape::Cosine,
            "exponential" => Shape::Exponential,
            other => {
                return Err(bad(format!("unknown schedule `{other}`: use constant, linear, cosine or exponential")))
            }
        };
        if shape == Shape::Constant {
            if end.is_some() || window.is_some() {
                return Err(bad("constant takes no END or window".into()));
            }
            return Ok(Self::constant());
        }
        let end = match end {
            Some(e) => number("END", e)?,
            None if shape == Shape::Exponential => 0.01,
            None => 0.0,
        };
        let (from, to) = match window {
            None => (0.0, 1.0),
            Some(w) => match w.split_once('-') {
                Some((f, t)) => (number("FROM", f)?, number("TO", t)?),
                None => (number("FROM", w)?, 1.0),
            },
        };
        if !(0.0..=1.0).contains(&end) {
            return Err(bad(format!("END must lie in [0, 1], got {end}")));
        }
        if shape == Shape::Exponential && end <= 0.0 {
            return Err(bad("exponential needs END > 0".into()));
        }
        if !((0.0..1.0).contains(&from) && to > from && to <= 1.0) {
            return Err(bad(format!("the window needs 0 ≤ FROM < TO ≤ 1, got {from}-{to}")));
        }
        Ok(Self { shape, end, from, to })
    }
}

impl fmt::Display for Schedule {
    /// The schedule in the syntax [`Schedule::parse`] reads.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.shape {
            Shape::Constant => return write!(f, "constant"),
            Shape::Linear => "linear",
            Shape::Cosine => "cosine",
            Shape::Exponential => "exponential",
        };
        write!(f, "{kind}:{}@{}-{}", self.end, self.from, self.to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn factors_follow_their_formulas() {
        let s = Schedule::parse("s", "cosine:0@0.25-0.75").unwrap();
        assert_eq!(s.factor(0.1), 1.0);
        assert_eq!(s.factor(0.9), 0.0);
        // r = ½ at p = ½: ½(1 + cos π/2) = ½
        assert!((s.factor(0.5) - 0.5).abs() < 1e-15);
        let l = Schedule::parse("s", "linear:0.2").unwrap();
        assert!((l.factor(0.5) - 0.6).abs() < 1e-15);
        let e = Schedule::parse("s", "exponential:0.01").unwrap();
        assert!((e.factor(0.5) - 0.1).abs() < 1e-15);
        assert_eq!(Schedule::parse("s", "constant").unwrap().factor(0.7), 1.0);
        // the step of index k sits at progress k/K
        assert!((l.at_step(5, 10) - 0.6).abs() < 1e-15);
    }

    #[test]
    fn display_round_trips_and_bad_specs_name_the_field() {
        for spec in ["constant", "linear:0.5@0.1-0.9", "cosine:0@0.3-0.7", "exponential:0.1@0-1"] {
            let s = Schedule::parse("f", spec).unwrap();
            assert_eq!(Schedule::parse("f", &s.to_string()).unwrap(), s);
        }
        for bad in ["cosin", "linear:2", "cosine:0@0.8-0.2", "exponential:0", "constant:0.5", "linear:x", "cosine@1"] {
            let e = Schedule::parse("--noise-schedule", bad).unwrap_err();
            assert!(e.to_string().contains("--noise-schedule"), "{bad}: {e}");
        }
    }
}

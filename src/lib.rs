//! mirrorflow: executable, falsifiable checks of the theorems of *Never Saddle for
//! Reparameterized Steepest Descent as Mirror Flow* (Jacobs, Zhou, Burkholz, ICLR 2026).

pub mod api;
pub mod bench;
pub mod bias;
pub mod cards;
pub mod checks;
pub mod claims;
pub mod discrete;
pub mod effective_init;
pub mod error;
pub mod escape;
pub mod figures;
pub mod fit;
pub mod flow;
pub mod geometry;
pub mod kernels;
pub mod margin;
pub mod ode;
pub mod plots;
pub mod potential;
pub mod problem;
pub mod quadrature;
pub mod reparam;
pub mod report;
pub mod rng;
pub mod roots;
pub mod saddle;
pub mod schedule;
pub mod selftest;
pub mod shard;
pub mod signflow;
pub mod sweep;
pub mod switching;
pub mod verdict;

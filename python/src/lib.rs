//! `mirrorflow._native`: the Python binding of mirrorflow's library operations. Each function
//! takes the data as nested lists of floats (exact f64 values from numpy) and the command's flags
//! as an argument vector (built by the Python wrapper from keywords), parses the flags with the same
//! clap structs as the command line, runs the same [`mirrorflow::api`] operation, and returns its
//! output as JSON text — so the Python package and the CLI give the same numbers bit for bit.

use clap::Parser;
use mirrorflow::api::{self, LossScaleArg};
use mirrorflow::checks::RunOptions;
use mirrorflow::error::InputError;
use mirrorflow::problem::{Loss, Problem};
use nalgebra::{DMatrix, DVector};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// `flow` keywords: the CLI's `flow` flags plus `--loss-scale`.
#[derive(Parser)]
#[command(name = "flow", no_binary_name = true, disable_help_flag = true)]
struct FlowCall {
    #[arg(long, value_enum, default_value = "sum")]
    loss_scale: LossScaleArg,
    #[command(flatten)]
    args: api::flow::FlowArgs,
}

/// `train` keywords.
#[derive(Parser)]
#[command(name = "train", no_binary_name = true, disable_help_flag = true)]
struct TrainCall {
    #[arg(long, value_enum, default_value = "sum")]
    loss_scale: LossScaleArg,
    #[command(flatten)]
    args: api::train::TrainArgs,
}

/// `bias` keywords.
#[derive(Parser)]
#[command(name = "bias", no_binary_name = true, disable_help_flag = true)]
struct BiasCall {
    #[arg(long, value_enum, default_value = "sum")]
    loss_scale: LossScaleArg,
    #[command(flatten)]
    args: api::bias::BiasArgs,
}

/// `escape` keywords.
#[derive(Parser)]
#[command(name = "escape", no_binary_name = true, disable_help_flag = true)]
struct EscapeCall {
    #[command(flatten)]
    args: api::escape::EscapeArgs,
}

/// An input error as Python's ValueError: `location: message`.
fn value_error(e: InputError) -> PyErr {
    PyValueError::new_err(format!("{}: {}", e.location, e.message))
}

/// The flags parsed as the CLI parses them; a clap error (unknown keyword, bad value) as ValueError.
fn parse<T: Parser>(argv: Vec<String>) -> PyResult<T> {
    T::try_parse_from(argv).map_err(|e| PyValueError::new_err(e.render().to_string().trim().to_string()))
}

/// The regression problem `½‖Ax − y‖²` from rows of `a` and targets `y`, validated as a data file is.
fn problem(a: Vec<Vec<f64>>, y: Vec<f64>, scale: LossScaleArg) -> PyResult<Problem> {
    let n = a.len();
    let d = a.first().map_or(0, Vec::len);
    if let Some((k, row)) = a.iter().enumerate().find(|(_, r)| r.len() != d) {
        return Err(value_error(InputError::new(
            format!("a[{k}]"),
            format!("has {} entries, row 0 has {d}", row.len()),
        )));
    }
    let a = DMatrix::from_row_iterator(n, d, a.into_iter().flatten());
    let p = Problem::new(a, DVector::from_vec(y), Loss::Squared).map_err(value_error)?;
    scale.apply(p).map_err(value_error)
}

/// JSON text of an output (full f64 precision).
fn json<T: serde::Serialize>(out: &T) -> PyResult<String> {
    let mut buf = Vec::new();
    serde::Serialize::serialize(out, &mut serde_json::Serializer::new(&mut buf))
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    String::from_utf8(buf).map_err(|e| PyValueError::new_err(e.to_string()))
}

/// `flow(a, y, argv)`: the steepest flow ([`api::flow::run`]) as JSON.
#[pyfunction]
fn flow(py: Python<'_>, a: Vec<Vec<f64>>, y: Vec<f64>, argv: Vec<String>) -> PyResult<String> {
    let call: FlowCall = parse(argv)?;
    let p = problem(a, y, call.loss_scale)?;
    let out = py.detach(|| api::flow::run(&p, &call.args, &|_| {})).map_err(value_error)?;
    json(&out)
}

/// `train(a, y, argv)`: a discrete optimizer ([`api::train::run`]) as JSON.
#[pyfunction]
fn train(py: Python<'_>, a: Vec<Vec<f64>>, y: Vec<f64>, argv: Vec<String>) -> PyResult<String> {
    let call: TrainCall = parse(argv)?;
    let p = problem(a, y, call.loss_scale)?;
    let out = py.detach(|| api::train::run(&p, &call.args)).map_err(value_error)?;
    json(&out)
}

/// `bias(a, y, argv)`: the predicted limit ([`api::bias::run`]) as JSON.
#[pyfunction]
fn bias(py: Python<'_>, a: Vec<Vec<f64>>, y: Vec<f64>, argv: Vec<String>) -> PyResult<String> {
    let call: BiasCall = parse(argv)?;
    let p = problem(a, y, call.loss_scale)?;
    let out = py.detach(|| api::bias::run(&p, &call.args, "data")).map_err(value_error)?;
    json(&out)
}

/// `escape(argv)`: the escape time on f = −γx ([`api::escape::run`]) as JSON.
#[pyfunction]
fn escape(py: Python<'_>, argv: Vec<String>) -> PyResult<String> {
    let call: EscapeCall = parse(argv)?;
    let out = py.detach(|| api::escape::run(&call.args, &|| {})).map_err(value_error)?;
    json(&out)
}

/// `check(ids, sets, all, paper_scale, controls, verify_numerics, jobs)`: the cards' outcomes as
/// `mirrorflow check --format json` lists them.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn check(
    py: Python<'_>,
    ids: Vec<String>,
    sets: Vec<String>,
    all: bool,
    paper_scale: bool,
    controls: bool,
    verify_numerics: bool,
    jobs: Option<usize>,
) -> PyResult<String> {
    let mut cards = api::check::select_cards(None, &ids, all, paper_scale).map_err(value_error)?;
    api::check::apply_sets(&mut cards, &sets).map_err(value_error)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.unwrap_or(0))
        .build()
        .map_err(|e| PyValueError::new_err(format!("jobs: {e}")))?;
    let options = RunOptions { controls, verify_numerics };
    let provenance = mirrorflow::report::Provenance::now();
    let batches = py.detach(|| pool.install(|| api::check::run(&cards, &options, &|| {}))).map_err(value_error)?;
    json(&api::check::outcomes_json(&cards, &batches, &sets, &provenance))
}

/// The native module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(flow, m)?)?;
    m.add_function(wrap_pyfunction!(train, m)?)?;
    m.add_function(wrap_pyfunction!(bias, m)?)?;
    m.add_function(wrap_pyfunction!(escape, m)?)?;
    m.add_function(wrap_pyfunction!(check, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}

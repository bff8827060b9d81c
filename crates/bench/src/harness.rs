//! The closed-loop driver shared by every benchmark: feeds a workload to a subject, times whole
//! runs for throughput, then times every op in a separate pass for latency.
//!
//! Throughput runs carry no per-op timer (an `Instant` pair costs about as much as a fast op),
//! and each run starts from a fresh subject with the prefill applied untimed, so runs are
//! independent and comparable.

use std::hint::black_box;
use std::time::{Duration, Instant};

use crate::stats::{LatencyReport, Throughput, duration_ns};
use crate::workload::{Op, Workload};

/// What one op did, as far as the fingerprint is concerned.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpEffect {
    /// Quantity this op traded (as taker).
    pub filled_lots: u64,
    /// Whether this op was a cancel that removed a resting order.
    pub cancelled: bool,
}

/// Anything that can be driven by a workload: a bare book, another crate's book, the engine.
pub trait Subject {
    fn apply(&mut self, op: &Op) -> OpEffect;

    /// A consistency check after the last op (outside any timing). `Err` names what is wrong.
    fn verify_end(&mut self) -> Result<(), String> {
        Ok(())
    }
}

/// Totals that the reference model also computes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub filled_lots: u64,
    pub cancels_ok: u64,
}

impl Tally {
    fn add(&mut self, effect: OpEffect) {
        self.filled_lots += effect.filled_lots;
        self.cancels_ok += u64::from(effect.cancelled);
    }
}

/// How many runs to do and whether to do the latency pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunConfig {
    pub throughput_runs: usize,
    pub latency_pass: bool,
}

/// Everything measured for one subject on one workload.
#[derive(Clone, Debug, Default)]
pub struct Measurement {
    pub throughput: Throughput,
    pub latency: Option<LatencyReport>,
    /// One tally per pass (throughput runs, then the latency pass); all must equal the reference.
    pub tallies: Vec<Tally>,
    /// First failure of `Subject::verify_end`, if any.
    pub end_check_error: Option<String>,
}

/// Runs the throughput passes and the latency pass. `make` builds a fresh, empty subject.
pub fn measure<S: Subject, E>(
    workload: &Workload,
    config: RunConfig,
    mut make: impl FnMut() -> Result<S, E>,
) -> Result<Measurement, E> {
    let mut session = Session::new(workload);
    for _ in 0..config.throughput_runs {
        session.throughput_run(make()?);
    }
    if config.latency_pass {
        session.latency_pass(make()?);
    }
    Ok(session.finish())
}

/// Measurements of one subject built up run by run, so that two subjects can take turns (their
/// ratio then suffers less from the VM drifting between runs).
pub struct Session<'w> {
    workload: &'w Workload,
    durations: Vec<Duration>,
    measurement: Measurement,
}

impl<'w> Session<'w> {
    pub fn new(workload: &'w Workload) -> Self {
        Session {
            workload,
            durations: Vec::new(),
            measurement: Measurement::default(),
        }
    }

    /// One closed-loop run on a fresh subject, prefill untimed.
    pub fn throughput_run<S: Subject>(&mut self, subject: S) {
        let mut subject = prefilled(self.workload, subject);
        let (elapsed, tally) = timed_run(&mut subject, &self.workload.ops);
        self.durations.push(elapsed);
        self.measurement.tallies.push(tally);
        record_end_check(&mut self.measurement, &mut subject);
    }

    /// The pass that times every op.
    pub fn latency_pass<S: Subject>(&mut self, subject: S) {
        let mut subject = prefilled(self.workload, subject);
        let (samples, tally) = latency_run(&mut subject, &self.workload.ops);
        self.measurement.tallies.push(tally);
        record_end_check(&mut self.measurement, &mut subject);
        let kinds = self.workload.ops.iter().map(Op::kind);
        self.measurement.latency = Some(LatencyReport::from_samples(kinds, samples));
    }

    pub fn finish(mut self) -> Measurement {
        let ops = self.workload.ops.len() as u64;
        self.measurement.throughput = Throughput::from_runs(ops, &self.durations);
        self.measurement
    }
}

fn prefilled<S: Subject>(workload: &Workload, mut subject: S) -> S {
    for op in &workload.prefill {
        black_box(subject.apply(op));
    }
    subject
}

fn record_end_check<S: Subject>(measurement: &mut Measurement, subject: &mut S) {
    if let Err(why) = subject.verify_end()
        && measurement.end_check_error.is_none()
    {
        measurement.end_check_error = Some(why);
    }
}

/// One closed-loop run with a single timer around all ops.
fn timed_run<S: Subject>(subject: &mut S, ops: &[Op]) -> (Duration, Tally) {
    let mut tally = Tally::default();
    let start = Instant::now();
    for op in ops {
        tally.add(subject.apply(black_box(op)));
    }
    let elapsed = start.elapsed();
    (elapsed, black_box(tally))
}

/// One pass timing every op; the samples are in op order.
fn latency_run<S: Subject>(subject: &mut S, ops: &[Op]) -> (Vec<u64>, Tally) {
    let mut tally = Tally::default();
    let mut samples = Vec::with_capacity(ops.len());
    for op in ops {
        let start = Instant::now();
        let effect = subject.apply(black_box(op));
        samples.push(duration_ns(start.elapsed()));
        tally.add(effect);
    }
    (samples, tally)
}

//! The closed-loop load every system is given: `clients` writers, each sending its next write
//! as soon as the previous one is acknowledged, for a fixed time after a warm-up.
//!
//! Closed-loop clients measure what a registry sustains at a given concurrency rather than
//! how it queues under an offered rate; with the same clients, keys and values for Ward and
//! etcd, the two are compared at equal concurrency.

use std::future::Future;
use std::time::Duration;

use anyhow::Context as _;
use tokio::time::Instant;

use crate::latency::Summary;

/// One client's connection to the store under test.
pub trait Writer: Send + 'static {
    /// Stores `value` under `key`, and returns once the store acknowledges it as durable.
    fn put(
        &mut self,
        key: String,
        value: Vec<u8>,
    ) -> impl Future<Output = anyhow::Result<()>> + Send;
}

/// The shape of one run.
#[derive(Clone, Copy, Debug)]
pub struct Load {
    /// Writes not counted at the start, while connections open and caches fill.
    pub warmup: Duration,
    /// How long writes are counted.
    pub measured: Duration,
    /// The size of every value written.
    pub value_bytes: usize,
}

/// What one client saw in the measured window.
#[derive(Debug, Default)]
struct ClientTally {
    latencies: Vec<Duration>,
    errors: u64,
    first_error: Option<String>,
}

/// Runs `load` with one client per writer in `writers`, and summarises what they saw.
pub async fn run<W: Writer>(load: Load, writers: Vec<W>) -> anyhow::Result<Summary> {
    // Every client shares one clock, so the measured window is the same for all of them.
    let start = Instant::now();
    let measure_from = start + load.warmup;
    let end = measure_from + load.measured;

    let mut clients = Vec::with_capacity(writers.len());
    for (index, mut writer) in writers.into_iter().enumerate() {
        // Each client owns one key, so concurrent writes never contend for a key and both
        // stores see the same key set.
        let key = format!("camera-{index:03}");
        let value = vec![b'm'; load.value_bytes];
        clients.push(tokio::spawn(async move {
            let mut tally = ClientTally::default();
            loop {
                let began = Instant::now();
                if began >= end {
                    return tally;
                }
                let outcome = writer.put(key.clone(), value.clone()).await;
                if began < measure_from {
                    continue;
                }
                match outcome {
                    Ok(()) => tally.latencies.push(began.elapsed()),
                    Err(error) => {
                        tally.errors += 1;
                        tally
                            .first_error
                            .get_or_insert_with(|| format!("{error:#}"));
                    }
                }
            }
        }));
    }

    let mut latencies = Vec::new();
    let mut errors = 0;
    let mut first_error = None;
    for client in clients {
        let tally = client.await.context("a load client panicked")?;
        latencies.extend(tally.latencies);
        errors += tally.errors;
        first_error = first_error.or(tally.first_error);
    }
    if let Some(error) = &first_error {
        eprintln!("registry-load: {errors} writes failed; the first: {error}");
    }
    Ok(Summary::new(latencies, errors, load.measured))
}

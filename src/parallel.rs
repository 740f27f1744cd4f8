//! Independent jobs on worker threads with a progress bar; results in job order.
use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// `f(i, &items[i])` for every item on `workers` threads, each taking the next job when free.
/// The first error stops the remaining jobs and is returned (callers add which item it was).
pub fn par_map<T: Sync, R: Send>(
    items: &[T],
    workers: usize,
    unit: &str,
    f: impl Fn(usize, &T) -> Result<R> + Sync,
) -> Result<Vec<R>> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<R>>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    let bar = ProgressBar::new(items.len() as u64);
    let template = format!("{{spinner}} [{{elapsed_precise}}] {{bar:30}} {{pos}}/{{len}} {unit} (eta {{eta}})");
    bar.set_style(ProgressStyle::with_template(&template).expect("valid template"));
    std::thread::scope(|scope| {
        for _ in 0..workers.max(1).min(items.len()) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(item) = items.get(i) else { break };
                let out = f(i, item);
                let failed = out.is_err();
                results.lock().expect("no worker panics while holding the lock")[i] = Some(out);
                bar.inc(1);
                if failed {
                    next.store(items.len(), Ordering::SeqCst);
                }
            });
        }
    });
    bar.finish_and_clear();
    let mut out = Vec::with_capacity(items.len());
    for (i, slot) in results.into_inner().expect("workers are done").into_iter().enumerate() {
        match slot {
            Some(r) => out.push(r?),
            None => anyhow::bail!("{unit} {i} did not run (an earlier one failed)"),
        }
    }
    Ok(out)
}

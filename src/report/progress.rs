//! A progress bar on stderr for runs with many queries, only when stderr is a terminal: never
//! in logs, cron mail or JSON (those go to files and pipes).

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::check::Progress;

/// Below this many (target, list) pairs a run is quick enough to need no bar.
const MIN_PAIRS: u64 = 200;

/// A bar that follows a run's progress until dropped, then clears its line.
pub struct Bar {
    bar: ProgressBar,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Bar {
    /// Starts following `progress` on stderr, if stderr is a terminal.
    pub fn start(progress: &Arc<Progress>) -> Bar {
        let bar = ProgressBar::hidden();
        if !std::io::stderr().is_terminal() {
            return Bar { bar, task: None };
        }
        if let Ok(style) =
            ProgressStyle::with_template("{bar:40} {pos}/{len} queries ({per_sec}, {eta} left)")
        {
            bar.set_style(style);
        }
        let (progress, shown) = (progress.clone(), bar.clone());
        let task = tokio::spawn(async move {
            let mut visible = false;
            loop {
                tokio::time::sleep(Duration::from_millis(100)).await;
                let total = progress.total.load(Ordering::Relaxed);
                if total < MIN_PAIRS {
                    continue;
                }
                if !visible {
                    shown.set_length(total);
                    shown.set_draw_target(ProgressDrawTarget::stderr());
                    visible = true;
                }
                shown.set_position(progress.done.load(Ordering::Relaxed));
            }
        });
        Bar {
            bar,
            task: Some(task),
        }
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
        self.bar.finish_and_clear();
    }
}

//! A progress bar on stderr for runs with many queries, only when stderr is a terminal: never
//! in logs, cron mail or JSON (those go to files and pipes).

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::check::Progress;

/// Below this many (target, list) pairs a run is quick enough to need no bar.
const MIN_PAIRS: u64 = 200;

/// A bar that follows a run's progress until dropped, then clears its line. It is drawn by
/// a thread of its own: a run answered from mirrors keeps the async runtime's thread busy.
/// Off the terminal there is nothing, not even a hidden bar: setting one up costs 46
/// allocations, a start-up cost of every run for a bar never drawn.
pub struct Bar(Option<Drawn>);

struct Drawn {
    bar: ProgressBar,
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl Bar {
    /// Starts following `progress` on stderr, if stderr is a terminal.
    pub fn start(progress: &Arc<Progress>) -> Bar {
        if !std::io::stderr().is_terminal() {
            return Bar(None);
        }
        let bar = ProgressBar::hidden();
        let stop = Arc::new(AtomicBool::new(false));
        if let Ok(style) =
            ProgressStyle::with_template("{bar:40} {pos}/{len} queries ({per_sec}, {eta} left)")
        {
            bar.set_style(style);
        }
        let (progress, shown, stopped) = (progress.clone(), bar.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut visible = false;
            loop {
                // Woken early by the drop: the run's end is not held up by a redraw's wait.
                std::thread::park_timeout(Duration::from_millis(100));
                if stopped.load(Ordering::Relaxed) {
                    break;
                }
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
        Bar(Some(Drawn { bar, stop, thread }))
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        if let Some(drawn) = self.0.take() {
            drawn.stop.store(true, Ordering::Relaxed);
            drawn.thread.thread().unpark();
            let _ = drawn.thread.join();
            drawn.bar.finish_and_clear();
        }
    }
}

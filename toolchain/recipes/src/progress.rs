//! Progress reporting on stderr for fetches and builds that take seconds to minutes:
//! spinners on a terminal (with the `progress-bar` feature, which the tools turn on),
//! plain `==>` lines otherwise (so CI logs and build-script output still say what
//! happened), nothing when hidden (tests).

#[cfg(feature = "progress-bar")]
use indicatif::{ProgressBar, ProgressStyle};

/// Where progress goes; cheap to clone.
#[derive(Debug, Clone)]
pub struct Progress {
    mode: Mode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    #[cfg(feature = "progress-bar")]
    Terminal,
    Lines,
    Hidden,
}

impl Default for Progress {
    fn default() -> Self {
        Self::new()
    }
}

impl Progress {
    /// Spinners when stderr is a terminal (and the `progress-bar` feature is on), plain
    /// lines otherwise.
    pub fn new() -> Self {
        #[cfg(feature = "progress-bar")]
        if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            return Progress {
                mode: Mode::Terminal,
            };
        }
        Self::lines()
    }

    /// Plain lines on stderr, whatever stderr is.
    pub fn lines() -> Self {
        Progress { mode: Mode::Lines }
    }

    /// Says nothing (unit tests).
    pub fn hidden() -> Self {
        Progress { mode: Mode::Hidden }
    }

    /// Starts a task; `msg` is shown next to its spinner or as a line.
    pub fn task(&self, msg: impl Into<String>) -> Task {
        let msg = msg.into();
        match self.mode {
            #[cfg(feature = "progress-bar")]
            Mode::Terminal => {
                let pb = ProgressBar::new_spinner();
                pb.set_style(
                    ProgressStyle::with_template("{spinner:.cyan} {msg} [{elapsed}]")
                        .expect("static template"),
                );
                pb.set_message(msg);
                pb.enable_steady_tick(std::time::Duration::from_millis(120));
                Task {
                    pb: Some(pb),
                    mode: self.mode,
                }
            }
            Mode::Lines => {
                eprintln!("==> {msg}");
                Task::plain(self.mode)
            }
            Mode::Hidden => Task::plain(self.mode),
        }
    }

    /// A one-off line (not a task).
    pub fn note(&self, msg: impl AsRef<str>) {
        if self.mode != Mode::Hidden {
            eprintln!("{}", msg.as_ref());
        }
    }
}

/// A running task; finish it with [`Task::done`] or [`Task::fail`]. Dropping it clears
/// the spinner.
pub struct Task {
    #[cfg(feature = "progress-bar")]
    pb: Option<ProgressBar>,
    mode: Mode,
}

impl Task {
    fn plain(mode: Mode) -> Task {
        Task {
            #[cfg(feature = "progress-bar")]
            pb: None,
            mode,
        }
    }

    /// Changes the text next to the spinner (a new build step, bytes so far, ...).
    /// Only shown on a terminal, where it replaces the old text in place.
    pub fn update(&self, msg: impl Into<String>) {
        #[cfg(feature = "progress-bar")]
        if let Some(pb) = &self.pb {
            pb.set_message(msg.into());
        }
        #[cfg(not(feature = "progress-bar"))]
        let _ = msg;
    }

    /// Like [`Task::update`], but also printed as a line when not on a terminal.
    pub fn step(&self, msg: impl Into<String>) {
        match self.mode {
            Mode::Lines => eprintln!("    {}", msg.into()),
            _ => self.update(msg),
        }
    }

    /// Ends the task with a final message.
    pub fn done(self, msg: impl Into<String>) {
        let msg = msg.into();
        #[cfg(feature = "progress-bar")]
        if let Some(pb) = &self.pb {
            pb.finish_with_message(msg);
            return;
        }
        if self.mode == Mode::Lines {
            eprintln!("    {msg}");
        }
    }

    /// Ends the task and leaves nothing behind (the caller reports the error).
    pub fn fail(self) {
        self.clear();
    }

    /// Ends the task without a final message: the spinner goes, and what the caller
    /// prints next stands in its place.
    pub fn clear(self) {
        #[cfg(feature = "progress-bar")]
        if let Some(pb) = &self.pb {
            pb.finish_and_clear();
        }
    }
}

#[cfg(feature = "progress-bar")]
impl Drop for Task {
    fn drop(&mut self) {
        if let Some(pb) = &self.pb {
            if !pb.is_finished() {
                pb.finish_and_clear();
            }
        }
    }
}

//! Suites: many runs, one verdict and one comparison. A suite file ([`file`]) names
//! systems with their `-o` settings, workloads with their `-w` options, nemesis sets, seeds
//! and repetitions; [`matrix`] expands it into cells; [`cell_run`] runs each as a child
//! `sunder run` writing an ordinary run folder; [`expectation`] measures each verdict
//! against what the cell expects (a planted bug must be caught); [`output`] writes the
//! suite folder. `commands::suite` schedules the cells and draws the progress.

pub mod cell_run;
pub mod expectation;
pub mod file;
pub mod matrix;
pub mod output;

//! The sequential specifications the linearizability search checks against, one module
//! each: registers (plain, CAS, per key), Porcupine's string kv, Knossos's multi-register,
//! set, FIFO queue, counter and mutex.

mod counter;
mod multi_register;
mod mutex;
mod prefix_tree;
mod queue;
mod register;
mod set;
mod string_kv;

pub use counter::CounterModel;
pub use multi_register::MultiRegisterModel;
pub use mutex::MutexModel;
pub use queue::FifoQueueModel;
pub use register::{CasResult, RegisterModel, RegisterOp};
pub use set::SetModel;
pub use string_kv::StringKvModel;

//! The bank workload: seeded transfers between accounts and reads of every balance at once,
//! with a final read of all balances on every node after heal. Judged by the bank checker
//! with the run's real accounts and total: every read must show exactly those accounts,
//! summing to the total, none negative. A system implementing the bank routes creates the
//! accounts `a0`..`a{N-1}` with the same balance each; the workload asks for them through the
//! system's `-o accounts=` and `-o initial-balance=` options ([`Workload::system_options`]),
//! so the checker's total is the one the system really started with.

use crate::invocation::{Invocation, Object};
use crate::workload::{Generator, OptionSpec, Workload, WorkloadError, WorkloadSpec, worker_rng};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};
use sunder_check::bank::BankSettings;
use sunder_check::plan::{Check, Plan};

/// The catalog entry.
pub const SPEC: WorkloadSpec = WorkloadSpec {
    name: "bank",
    doc: "transfers between accounts and reads of every balance; the total is conserved, none negative",
    options: &[
        OptionSpec { key: "accounts", default: "5", doc: "accounts a0..aN-1" },
        OptionSpec { key: "balance", default: "100", doc: "each account's balance at the start" },
        OptionSpec { key: "max-transfer", default: "5", doc: "largest amount one transfer moves" },
        OptionSpec { key: "read-share", default: "20", doc: "percent of operations that read every balance" },
    ],
    build: |o| {
        let accounts = o.count("accounts", 2)?;
        let balance = o.count("balance", 0)?;
        let too_big = |key: &str, v: usize| WorkloadError::BadValue {
            key: key.into(),
            value: v.to_string(),
            problem: "too large for a balance".into(),
        };
        let balance = i64::try_from(balance).map_err(|_| too_big("balance", balance))?;
        if balance.checked_mul(accounts as i64).is_none() {
            return Err(too_big("balance", balance as usize));
        }
        let max_transfer = o.count("max-transfer", 1)?;
        let read_share = o.count("read-share", 0)?.min(100) as u32;
        Ok(Box::new(Bank { accounts, balance, max_transfer: max_transfer as i64, read_share }))
    },
};

/// The bank workload, built.
#[derive(Debug, Clone, Copy)]
pub struct Bank {
    /// Number of accounts.
    pub accounts: usize,
    /// Each account's starting balance.
    pub balance: i64,
    /// Largest transfer.
    pub max_transfer: i64,
    /// Percent of operations that are reads.
    pub read_share: u32,
}

/// Name of account `i`.
pub fn account_name(i: usize) -> String {
    format!("a{i}")
}

impl Workload for Bank {
    fn generator(&self, seed: u64, worker: u64, _workers: u64) -> Box<dyn Generator> {
        Box::new(BankGenerator { rng: worker_rng(seed, worker), bank: *self })
    }

    fn final_ops(&self) -> Vec<Invocation> {
        vec![read_all()]
    }

    fn plan(&self) -> Plan {
        Plan::one(Check::Bank(BankSettings {
            accounts: Some((0..self.accounts).map(account_name).collect()),
            total: Some(self.balance * self.accounts as i64),
            negative_balances_allowed: false,
        }))
    }

    fn system_options(&self) -> Vec<(&'static str, String)> {
        vec![("accounts", self.accounts.to_string()), ("initial-balance", self.balance.to_string())]
    }
}

fn read_all() -> Invocation {
    Invocation { object: Object::Bank, f: "read", key: None, value: Value::Null }
}

/// Seeded generator of transfers and reads for one worker.
#[derive(Debug, Clone)]
pub struct BankGenerator {
    rng: ChaCha8Rng,
    bank: Bank,
}

impl Generator for BankGenerator {
    fn next_op(&mut self) -> Invocation {
        if self.rng.random_range(0..100) < self.bank.read_share {
            return read_all();
        }
        let from = self.rng.random_range(0..self.bank.accounts);
        let to = (from + self.rng.random_range(1..self.bank.accounts)) % self.bank.accounts;
        let amount = self.rng.random_range(1..=self.bank.max_transfer);
        Invocation {
            object: Object::Bank,
            f: "transfer",
            key: None,
            value: json!({ "from": account_name(from), "to": account_name(to), "amount": amount }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transfers_move_money_between_two_distinct_accounts() {
        let bank = Bank { accounts: 3, balance: 10, max_transfer: 4, read_share: 20 };
        let mut g = bank.generator(5, 0, 1);
        let mut transfers = 0;
        for _ in 0..500 {
            let op = g.next_op();
            if op.f == "transfer" {
                transfers += 1;
                assert_ne!(op.value["from"], op.value["to"]);
                assert!((1..=4).contains(&op.value["amount"].as_i64().unwrap()));
            }
        }
        assert!(transfers > 300);
        let Check::Bank(settings) = &bank.plan().checks[0] else { panic!("a bank plan") };
        assert_eq!(settings.total, Some(30));
        assert_eq!(settings.accounts.as_deref(), Some(&["a0".to_string(), "a1".into(), "a2".into()][..]));
    }
}

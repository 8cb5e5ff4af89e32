//! The log collector of `eth_simulateV1`: every log a call emits, in execution order, and
//! with `traceTransfers` an ERC-7528 pseudo-log for every ether transfer.
//!
//! As geth's simulation tracer: logs are kept per open call frame, so a frame that fails
//! takes its logs (and its transfers) with it; a failed transaction keeps none. Log
//! indexes count every log captured in the block, including those later dropped.
//! Transfers are logged for the transaction's value, for value-carrying calls (not
//! `DELEGATECALL`, whose value only appears to move), for creations with an endowment
//! and for self-destructs that pass on a balance.

use alloy::primitives::{Address, B256, Log, LogData, U256, address, b256};
use revm::context_interface::ContextTr;
use revm::inspector::Inspector;
use revm::interpreter::{CallInputs, CallOutcome, CallScheme, CreateInputs, CreateOutcome};

/// ERC-7528's pseudo-address for ether.
pub(super) const ETH_ADDRESS: Address = address!("0xEeeeeEeeeEeEeeEeEeEeeEEEeeeeEeeeeeeeEEeE");
/// `keccak256("Transfer(address,address,uint256)")`.
pub(super) const TRANSFER_TOPIC: B256 =
    b256!("0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef");

/// One open call frame's logs, each with its block-wide index.
#[derive(Debug, Default)]
struct Frame {
    logs: Vec<(u64, Log)>,
    /// A creation's transfer, logged before the new address is known: its recipient
    /// topic is filled in when the frame ends.
    pending_create: Option<usize>,
}

/// Collects the logs of one block's transactions (see the module docs).
#[derive(Debug, Default)]
pub(super) struct LogCollector {
    trace_transfers: bool,
    frames: Vec<Frame>,
    /// The finished transaction's logs.
    finished: Vec<(u64, Log)>,
    /// Logs captured in the block so far.
    count: u64,
}

impl LogCollector {
    /// A collector that logs transfers when `trace_transfers` is set.
    pub(super) fn new(trace_transfers: bool) -> Self {
        Self {
            trace_transfers,
            ..Self::default()
        }
    }

    /// Starts a new block: log indexes start again from zero.
    pub(super) fn start_block(&mut self) {
        self.frames.clear();
        self.finished.clear();
        self.count = 0;
    }

    /// Takes the logs of the transaction that just ran (empty if it failed).
    pub(super) fn take(&mut self) -> Vec<(u64, Log)> {
        self.frames.clear();
        std::mem::take(&mut self.finished)
    }

    fn capture(&mut self, log: Log) -> Option<usize> {
        let index = self.count;
        self.count += 1;
        let frame = self.frames.last_mut()?;
        frame.logs.push((index, log));
        Some(frame.logs.len() - 1)
    }

    fn transfer(&mut self, from: Address, to: Address, value: U256) -> Option<usize> {
        if !self.trace_transfers || value.is_zero() {
            return None;
        }
        let data = LogData::new_unchecked(
            vec![TRANSFER_TOPIC, from.into_word(), to.into_word()],
            B256::from(value).into(),
        );
        self.capture(Log {
            address: ETH_ADDRESS,
            data,
        })
    }

    fn enter(&mut self) {
        self.frames.push(Frame::default());
    }

    /// Closes the innermost frame; `created` names a creation's new address.
    fn exit(&mut self, success: bool, created: Option<Address>) {
        let Some(mut frame) = self.frames.pop() else {
            return;
        };
        if let (Some(at), Some(address)) = (frame.pending_create, created)
            && let Some((_, log)) = frame.logs.get_mut(at)
        {
            let mut topics = log.data.topics().to_vec();
            topics[2] = address.into_word();
            log.data = LogData::new_unchecked(topics, log.data.data.clone());
        }
        let logs = if success { frame.logs } else { Vec::new() };
        match self.frames.last_mut() {
            Some(parent) => parent.logs.extend(logs),
            None => self.finished = logs,
        }
    }
}

impl<CTX: ContextTr> Inspector<CTX> for LogCollector {
    fn log(&mut self, _context: &mut CTX, log: Log) {
        self.capture(log);
    }

    fn call(&mut self, _context: &mut CTX, inputs: &mut CallInputs) -> Option<CallOutcome> {
        self.enter();
        if inputs.scheme != CallScheme::DelegateCall
            && let Some(value) = inputs.transfer_value()
        {
            let to = match inputs.scheme {
                CallScheme::CallCode => inputs.bytecode_address,
                _ => inputs.target_address,
            };
            self.transfer(inputs.caller, to, value);
        }
        None
    }

    fn call_end(&mut self, _context: &mut CTX, _inputs: &CallInputs, outcome: &mut CallOutcome) {
        self.exit(outcome.result.result.is_ok(), None);
    }

    fn create(&mut self, _context: &mut CTX, inputs: &mut CreateInputs) -> Option<CreateOutcome> {
        self.enter();
        let pending = self.transfer(inputs.caller(), Address::ZERO, inputs.value());
        if let Some(frame) = self.frames.last_mut() {
            frame.pending_create = pending;
        }
        None
    }

    fn create_end(
        &mut self,
        _context: &mut CTX,
        _inputs: &CreateInputs,
        outcome: &mut CreateOutcome,
    ) {
        self.exit(outcome.result.result.is_ok(), outcome.address);
    }

    fn selfdestruct(&mut self, contract: Address, target: Address, value: U256) {
        self.transfer(contract, target, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(byte: u8) -> Log {
        Log {
            address: Address::repeat_byte(byte),
            data: LogData::default(),
        }
    }

    #[test]
    fn failed_frames_drop_their_logs_but_keep_counting() {
        let mut c = LogCollector::new(true);
        c.enter();
        c.transfer(
            Address::repeat_byte(1),
            Address::repeat_byte(2),
            U256::from(5),
        );
        c.enter();
        c.capture(log(3));
        c.exit(false, None);
        c.capture(log(4));
        c.exit(true, None);
        let logs = c.take();
        let indexes: Vec<u64> = logs.iter().map(|(i, _)| *i).collect();
        assert_eq!(indexes, [0, 2]);
        assert_eq!(logs[0].1.address, ETH_ADDRESS);
        assert_eq!(logs[1].1.address, Address::repeat_byte(4));
    }

    #[test]
    fn a_failed_transaction_keeps_nothing_and_zero_value_moves_nothing() {
        let mut c = LogCollector::new(true);
        c.enter();
        c.transfer(Address::ZERO, Address::ZERO, U256::ZERO);
        c.capture(log(1));
        c.exit(false, None);
        assert!(c.take().is_empty());
        c.start_block();
        let mut quiet = LogCollector::new(false);
        quiet.enter();
        quiet.transfer(Address::ZERO, Address::ZERO, U256::from(1));
        quiet.exit(true, None);
        assert!(quiet.take().is_empty());
    }

    #[test]
    fn creations_name_the_new_address() {
        let mut c = LogCollector::new(true);
        c.enter();
        let at = c.transfer(Address::repeat_byte(1), Address::ZERO, U256::from(7));
        c.frames.last_mut().unwrap().pending_create = at;
        c.exit(true, Some(Address::repeat_byte(9)));
        let logs = c.take();
        assert_eq!(logs[0].1.topics()[2], Address::repeat_byte(9).into_word());
    }
}

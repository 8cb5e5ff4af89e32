//! The blocks a simulation will produce: numbers and timestamps checked and defaulted,
//! gaps between requested block numbers filled with empty blocks (as geth does).

use alloy::primitives::U256;
use alloy::rpc::types::simulate::{MAX_SIMULATE_BLOCKS, SimBlock};
use alloy::rpc::types::{BlockOverrides, TransactionRequest, state::StateOverride};

use super::{SimulateError, SimulateFailure};

/// Seconds between simulated blocks whose time is not given.
pub(super) const TIMESTAMP_INCREMENT: u64 = 12;

/// One block to simulate, its number and time settled.
#[derive(Debug, Clone, Default)]
pub(super) struct PlannedBlock {
    /// Block number.
    pub(super) number: u64,
    /// Unix seconds.
    pub(super) timestamp: u64,
    /// The remaining header overrides (number and time are settled above).
    pub(super) overrides: BlockOverrides,
    /// State changes applied before the calls.
    pub(super) state: Option<StateOverride>,
    /// The calls, in order.
    pub(super) calls: Vec<TransactionRequest>,
}

/// Settles the number and time of every requested block after the base block
/// (`number`, `timestamp`), filling gaps with empty blocks.
///
/// Numbers must increase (`-38020`), times must increase (`-38021`), and the last block
/// may be at most [`MAX_SIMULATE_BLOCKS`] after the base (`-38026`).
pub(super) fn plan(
    base_number: u64,
    base_timestamp: u64,
    blocks: Vec<SimBlock>,
) -> Result<Vec<PlannedBlock>, SimulateError> {
    let mut planned = Vec::with_capacity(blocks.len());
    let mut previous_number = base_number;
    let mut previous_time = base_timestamp;
    for block in blocks {
        let overrides = block.block_overrides.unwrap_or_default();
        let number = match overrides.number {
            Some(n) => u64::try_from(n).map_err(|_| {
                SimulateError::refused(
                    SimulateFailure::InvalidParams,
                    format!("block number {n} is too large"),
                )
            })?,
            None => previous_number.checked_add(1).ok_or_else(too_many)?,
        };
        if number <= previous_number {
            return Err(SimulateError::refused(
                SimulateFailure::BlockNumberOrder,
                format!("block numbers must be in order: {number} <= {previous_number}"),
            ));
        }
        if number - base_number > MAX_SIMULATE_BLOCKS {
            return Err(too_many());
        }
        for gap in previous_number + 1..number {
            previous_time = next_time(previous_time)?;
            planned.push(PlannedBlock {
                number: gap,
                timestamp: previous_time,
                ..PlannedBlock::default()
            });
        }
        let timestamp = match overrides.time {
            Some(time) if time <= previous_time => {
                return Err(SimulateError::refused(
                    SimulateFailure::TimestampOrder,
                    format!("block timestamps must be in order: {time} <= {previous_time}"),
                ));
            }
            Some(time) => time,
            None => next_time(previous_time)?,
        };
        previous_number = number;
        previous_time = timestamp;
        planned.push(PlannedBlock {
            number,
            timestamp,
            overrides: BlockOverrides {
                number: Some(U256::from(number)),
                time: Some(timestamp),
                ..overrides
            },
            state: block.state_overrides,
            calls: block.calls,
        });
    }
    Ok(planned)
}

fn next_time(previous: u64) -> Result<u64, SimulateError> {
    previous.checked_add(TIMESTAMP_INCREMENT).ok_or_else(|| {
        SimulateError::refused(
            SimulateFailure::TimestampOrder,
            "block timestamp overflow".to_string(),
        )
    })
}

fn too_many() -> SimulateError {
    SimulateError::refused(
        SimulateFailure::TooManyBlocks,
        "too many blocks".to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(number: Option<u64>, time: Option<u64>) -> SimBlock {
        SimBlock {
            block_overrides: Some(BlockOverrides {
                number: number.map(U256::from),
                time,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn kind(err: SimulateError) -> SimulateFailure {
        match err {
            SimulateError::Refused { kind, .. } => kind,
            other => panic!("unexpected {other}"),
        }
    }

    #[test]
    fn gaps_are_filled_and_times_increment() {
        let planned = plan(10, 100, vec![block(None, None), block(Some(14), None)]).unwrap();
        let got: Vec<(u64, u64)> = planned.iter().map(|b| (b.number, b.timestamp)).collect();
        assert_eq!(got, [(11, 112), (12, 124), (13, 136), (14, 148)]);
    }

    #[test]
    fn order_and_size_are_checked() {
        let order = plan(10, 100, vec![block(Some(12), None), block(Some(12), None)]);
        assert_eq!(kind(order.unwrap_err()), SimulateFailure::BlockNumberOrder);
        let time = plan(10, 100, vec![block(None, Some(100))]);
        assert_eq!(kind(time.unwrap_err()), SimulateFailure::TimestampOrder);
        let many = plan(
            10,
            100,
            vec![block(Some(10 + MAX_SIMULATE_BLOCKS + 1), None)],
        );
        assert_eq!(kind(many.unwrap_err()), SimulateFailure::TooManyBlocks);
        assert!(plan(10, 100, vec![block(Some(10 + MAX_SIMULATE_BLOCKS), None)]).is_ok());
    }
}

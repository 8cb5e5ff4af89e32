//! The chain's EVM: Ethereum's, with one deviation on chains whose genesis makes
//! balances private.
//!
//! On such a chain (every consortium chain, and `coco dev --confidential`) `BALANCE` and
//! `EXTCODEHASH` of an account that has no code — or only an EIP-7702 delegation
//! designator — answer as for an empty account (zero), unless the account is the
//! transaction's origin (for calls: the `from`) or the account whose code is running
//! (what `SELFBALANCE` reads anyway: a contract in its constructor, an EOA running its
//! delegate's code). Contracts' balances and code hashes stay readable. Without this, EVM
//! code run by anyone (an `eth_call`, a transaction emitting a log) reads every balance
//! the RPC policy hides, at any block.
//!
//! Both instructions run revm's own implementation first, so gas, the warm/cold access
//! list and every failure are exactly those of the unmodified opcode; only the value
//! pushed changes. `SELFBALANCE` is unchanged. Every path that executes (block building,
//! import, `eth_call`, `eth_estimateGas`, access lists, traces, `eth_simulateV1`) gets its
//! EVM from [`ChainEvm`], taken from the [`super::ChainSpec`], so they all execute alike;
//! on other chains [`ChainEvm`] is alloy-evm's Ethereum EVM untouched.

use alloy::primitives::{Address, KECCAK256_EMPTY, U256};
use alloy_evm::eth::{EthEvm, EthEvmContext};
use alloy_evm::precompiles::PrecompilesMap;
use alloy_evm::{Database, EthEvmFactory, EvmEnv, EvmFactory};
use revm::Inspector;
use revm::bytecode::opcode::{BALANCE, EXTCODECOPY, EXTCODEHASH};
use revm::context::{BlockEnv, TxEnv};
use revm::context_interface::DBErrorMarker;
use revm::context_interface::result::{EVMError, HaltReason};
use revm::inspector::NoOpInspector;
use revm::interpreter::instructions::host;
use revm::interpreter::interpreter_types::{InputsTr, MemoryTr, StackTr};
use revm::interpreter::{
    Host, Instruction, InstructionContext, InstructionExecResult, InterpreterTypes,
};
use revm::primitives::hardfork::SpecId;

/// The EVM factory of one chain: alloy-evm's Ethereum EVM, with `BALANCE` and
/// `EXTCODEHASH` of code-less accounts hidden when the chain's genesis says so.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChainEvm {
    private_balances: bool,
    private_code: bool,
}

impl ChainEvm {
    /// Ethereum's EVM, unmodified (open and imported chains).
    pub const ETHEREUM: Self = Self {
        private_balances: false,
        private_code: false,
    };

    /// Ethereum's EVM with the private-balance rule (confidential chains).
    pub const PRIVATE_BALANCES: Self = Self {
        private_balances: true,
        private_code: false,
    };

    /// This EVM with the private-code rule too (a governed confidential chain):
    /// `EXTCODECOPY` of a contract governance made private copies zeros.
    pub const fn with_private_code(self) -> Self {
        Self {
            private_code: true,
            ..self
        }
    }

    /// Whether `BALANCE` and `EXTCODEHASH` hide code-less accounts.
    pub fn private_balances(&self) -> bool {
        self.private_balances
    }

    /// `evm` with the rule's instructions installed, if the rule is on.
    fn configure<DB: Database, I>(
        &self,
        evm: EthEvm<DB, I, PrecompilesMap>,
        inspect: bool,
    ) -> EthEvm<DB, I, PrecompilesMap> {
        if !self.private_balances && !self.private_code {
            return evm;
        }
        let mut inner = evm.into_inner();
        // Only the handlers change: the static gas of the opcodes stays in the gas table.
        let table = inner.instruction.instruction_table_mut();
        if self.private_balances {
            table[BALANCE as usize] = Instruction::new(private_balance);
            table[EXTCODEHASH as usize] = Instruction::new(private_extcodehash);
        }
        if self.private_code {
            table[EXTCODECOPY as usize] = Instruction::new(private_extcodecopy);
        }
        EthEvm::new(inner, inspect)
    }
}

impl EvmFactory for ChainEvm {
    type Evm<DB: Database, I: Inspector<EthEvmContext<DB>>> = EthEvm<DB, I, PrecompilesMap>;
    type Context<DB: Database> = EthEvmContext<DB>;
    type Tx = TxEnv;
    type Error<DBError: DBErrorMarker> = EVMError<DBError>;
    type HaltReason = HaltReason;
    type Spec = SpecId;
    type BlockEnv = BlockEnv;
    type Precompiles = PrecompilesMap;

    fn create_evm<DB: Database>(&self, db: DB, input: EvmEnv) -> Self::Evm<DB, NoOpInspector> {
        self.configure(EthEvmFactory::default().create_evm(db, input), false)
    }

    fn create_evm_with_inspector<DB: Database, I: Inspector<Self::Context<DB>>>(
        &self,
        db: DB,
        input: EvmEnv,
        inspector: I,
    ) -> Self::Evm<DB, I> {
        let evm = EthEvmFactory::default().create_evm_with_inspector(db, input, inspector);
        self.configure(evm, true)
    }
}

/// `BALANCE`: revm's, then zero for a hidden account.
fn private_balance<H: Host + ?Sized, IT: InterpreterTypes>(
    context: InstructionContext<'_, H, IT>,
) -> InstructionExecResult {
    hide_after(context, host::balance)
}

/// `EXTCODEHASH`: revm's, then zero (as for a non-existent account) for a hidden account.
fn private_extcodehash<H: Host + ?Sized, IT: InterpreterTypes>(
    context: InstructionContext<'_, H, IT>,
) -> InstructionExecResult {
    hide_after(context, host::extcodehash)
}

/// `EXTCODECOPY`: revm's (its gas, memory expansion and access list), then zeros in the
/// copied range when governance made the contract's code private. Whether it did is read
/// from governance's storage through the journal (loading `0x…C0C0` and one slot warm),
/// only when the copy is not empty and the code not the running contract's own.
fn private_extcodecopy<H: Host + ?Sized, IT: InterpreterTypes>(
    context: InstructionContext<'_, H, IT>,
) -> InstructionExecResult {
    let InstructionContext { interpreter, host } = context;
    // Stack, top first: address, memory offset, code offset, length.
    let args = match interpreter.stack.data() {
        [.., len, _, offset, address] => Some((
            Address::from_word((*address).to_be_bytes().into()),
            *offset,
            *len,
        )),
        _ => None,
    };
    host::extcodecopy(InstructionContext {
        interpreter: &mut *interpreter,
        host: &mut *host,
    })?;
    let Some((address, offset, len)) = args else {
        return Ok(());
    };
    if len.is_zero() || address == interpreter.input.target_address() {
        return Ok(());
    }
    // The copy succeeded, so both fit in memory.
    let (offset, len) = (
        offset.saturating_to::<usize>(),
        len.saturating_to::<usize>(),
    );
    host.load_account_info_skip_cold_load(super::system::GOVERNANCE, false, false)?;
    let slot = super::system::private_code_slot(address);
    let private = host.sload_skip_cold_load(super::system::GOVERNANCE, slot, false)?;
    if !private.data.is_zero() {
        interpreter.memory.set(offset, &vec![0u8; len]);
    }
    Ok(())
}

/// Runs `instruction` (which pops an address and pushes what it reads of it) and, if the
/// address is hidden from the running code, replaces its answer with zero.
fn hide_after<H: Host + ?Sized, IT: InterpreterTypes>(
    context: InstructionContext<'_, H, IT>,
    instruction: fn(InstructionContext<'_, H, IT>) -> InstructionExecResult,
) -> InstructionExecResult {
    let InstructionContext { interpreter, host } = context;
    // An empty stack is the instruction's own failure (stack underflow), reported below.
    let address = interpreter
        .stack
        .top()
        .map(|word| Address::from_word(word.to_be_bytes().into()));
    instruction(InstructionContext {
        interpreter: &mut *interpreter,
        host: &mut *host,
    })?;
    let Some(address) = address else {
        return Ok(());
    };
    let running = interpreter.input.target_address();
    if address == host.caller() || address == running {
        return Ok(());
    }
    // The instruction has loaded (and paid for) the account: this load is warm and free.
    let account = host.load_account_info_skip_cold_load(address, true, false)?;
    let code_less = account.account.code_hash == KECCAK256_EMPTY
        || account
            .account
            .code
            .as_ref()
            .is_none_or(|code| code.is_empty() || code.is_eip7702());
    if code_less && let Some(top) = interpreter.stack.top() {
        *top = U256::ZERO;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::{Bytes, TxKind, address, bytes};
    use alloy_evm::Evm;
    use revm::context::CfgEnv;
    use revm::context_interface::result::ExecutionResult;
    use revm::database::{CacheDB, EmptyDB};
    use revm::state::{AccountInfo, Bytecode};

    const ORIGIN: Address = address!("0x00000000000000000000000000000000000000c0");
    const HOLDER: Address = address!("0x00000000000000000000000000000000000000a0");
    const DELEGATED: Address = address!("0x00000000000000000000000000000000000000d0");
    const CONTRACT: Address = address!("0x00000000000000000000000000000000000000e0");

    /// Init code that returns `<op>(target)` as one word.
    fn probe(op: u8, target: Address) -> Bytes {
        let mut code = vec![0x73]; // PUSH20
        code.extend_from_slice(target.as_slice());
        code.extend_from_slice(&[op, 0x60, 0x00, 0x52, 0x60, 0x20, 0x60, 0x00, 0xf3]);
        code.into()
    }

    fn db() -> CacheDB<EmptyDB> {
        let mut db = CacheDB::new(EmptyDB::default());
        let ether = U256::from(10u64).pow(U256::from(18u64));
        db.insert_account_info(ORIGIN, AccountInfo::from_balance(ether));
        db.insert_account_info(HOLDER, AccountInfo::from_balance(U256::from(123_457u64)));
        let mut delegated = AccountInfo::from_balance(U256::from(77u64));
        delegated.nonce = 1;
        db.insert_account_info(
            DELEGATED,
            delegated.with_code(Bytecode::new_eip7702(CONTRACT)),
        );
        let contract = AccountInfo::from_balance(U256::from(5u64))
            .with_code(Bytecode::new_raw(bytes!("0x00")));
        db.insert_account_info(CONTRACT, contract);
        db
    }

    /// What the probe returns, and the gas it used.
    fn run(evm: ChainEvm, op: u8, target: Address) -> (U256, u64) {
        let env = EvmEnv {
            cfg_env: CfgEnv::new_with_spec(SpecId::PRAGUE),
            block_env: BlockEnv::default(),
        };
        let mut evm = evm.create_evm(db(), env);
        let tx = TxEnv {
            caller: ORIGIN,
            kind: TxKind::Create,
            data: probe(op, target),
            gas_limit: 1_000_000,
            gas_price: 0,
            ..Default::default()
        };
        let result = evm.transact(tx).expect("runs").result;
        let ExecutionResult::Success { output, gas, .. } = result else {
            panic!("probe failed: {result:?}");
        };
        (U256::from_be_slice(output.data()), gas.tx_gas_used())
    }

    #[test]
    fn code_less_accounts_other_than_the_origin_read_as_empty() {
        let hidden = [
            HOLDER,
            DELEGATED,
            address!("0x00000000000000000000000000000000000000ff"),
        ];
        for op in [BALANCE, EXTCODEHASH] {
            for target in hidden {
                let (open, open_gas) = run(ChainEvm::ETHEREUM, op, target);
                let (private, private_gas) = run(ChainEvm::PRIVATE_BALANCES, op, target);
                assert_eq!(private, U256::ZERO, "op {op:#x} of {target}");
                assert_eq!(private_gas, open_gas, "gas of op {op:#x} of {target}");
                if target != hidden[2] {
                    assert_ne!(open, U256::ZERO, "the open EVM reads {target}");
                }
            }
            for target in [ORIGIN, CONTRACT] {
                assert_eq!(
                    run(ChainEvm::PRIVATE_BALANCES, op, target),
                    run(ChainEvm::ETHEREUM, op, target),
                    "op {op:#x} of {target}"
                );
            }
        }
        assert_eq!(
            run(ChainEvm::ETHEREUM, BALANCE, HOLDER).0,
            U256::from(123_457u64)
        );
        assert_eq!(
            run(ChainEvm::PRIVATE_BALANCES, BALANCE, CONTRACT).0,
            U256::from(5u64)
        );
    }

    #[test]
    fn the_running_account_reads_itself_as_selfbalance_does() {
        // In its constructor a contract has no code yet; `BALANCE(ADDRESS)` is its own.
        let code = bytes!("0x303160005260206000f3");
        let env = EvmEnv {
            cfg_env: CfgEnv::new_with_spec(SpecId::PRAGUE),
            block_env: BlockEnv::default(),
        };
        let mut evm = ChainEvm::PRIVATE_BALANCES.create_evm(db(), env);
        let tx = TxEnv {
            caller: ORIGIN,
            kind: TxKind::Create,
            data: code,
            value: U256::from(9u64),
            gas_limit: 1_000_000,
            gas_price: 0,
            ..Default::default()
        };
        let result = evm.transact(tx).expect("runs").result;
        assert_eq!(
            U256::from_be_slice(result.output().expect("returns")),
            U256::from(9u64)
        );
    }
}

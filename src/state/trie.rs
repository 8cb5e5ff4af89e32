//! A persistent (copy-on-write) Merkle-Patricia trie over fixed-length keys, with each
//! node's reference (`rlp(node)` or its hash) cached.
//!
//! Changing a key copies only the nodes on its path; the rest are shared with the trie it
//! came from (a clone is an `Arc` clone). So the root after a block's changes costs
//! `O(changed keys × depth)` hashes — unchanged subtrees keep their cached references —
//! and "the root if this diff were applied" is a cheap clone plus the changes, leaving
//! the original as it was. Node encodings are alloy-trie's.
//!
//! Keys all have the same length (hashed addresses and slots: 64 nibbles), so no value
//! ever sits in a branch node.

use std::sync::{Arc, OnceLock};

use alloy::primitives::{B256, Bytes, keccak256};
use alloy::trie::nodes::{BranchNodeRef, ExtensionNodeRef, LeafNodeRef, RlpNode};
use alloy::trie::{EMPTY_ROOT_HASH, Nibbles, TrieMask};

/// The trie; `Default` is the empty trie.
#[derive(Clone, Default)]
pub(crate) struct Trie {
    root: Option<Arc<Node>>,
}

impl Trie {
    /// Whether both are the very same trie (same root node), not just equal.
    pub(crate) fn same(&self, other: &Trie) -> bool {
        match (&self.root, &other.root) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        }
    }
}

impl std::fmt::Debug for Trie {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trie").field("root", &self.root()).finish()
    }
}

struct Node {
    kind: Kind,
    /// `rlp(node)` when shorter than 32 bytes, else `rlp(keccak(rlp(node)))`.
    reference: OnceLock<RlpNode>,
}

enum Kind {
    Leaf {
        key: Nibbles,
        value: Vec<u8>,
    },
    Extension {
        key: Nibbles,
        child: Arc<Node>,
    },
    Branch {
        children: Box<[Option<Arc<Node>>; 16]>,
    },
}

fn node(kind: Kind) -> Arc<Node> {
    Arc::new(Node {
        kind,
        reference: OnceLock::new(),
    })
}

impl Node {
    /// The node's RLP encoding.
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match &self.kind {
            Kind::Leaf { key, value } => {
                LeafNodeRef::new(key, value).rlp(&mut out);
            }
            Kind::Extension { key, child } => {
                ExtensionNodeRef::new(key, child.reference()).rlp(&mut out);
            }
            Kind::Branch { children } => {
                let mut mask = TrieMask::default();
                let mut stack = Vec::with_capacity(16);
                for (i, child) in children.iter().enumerate() {
                    if let Some(child) = child {
                        mask.set_bit(i as u8);
                        stack.push(child.reference().clone());
                    }
                }
                BranchNodeRef::new(&stack, mask).rlp(&mut out);
            }
        }
        out
    }

    fn reference(&self) -> &RlpNode {
        self.reference
            .get_or_init(|| RlpNode::from_rlp(&self.encode()))
    }
}

/// A node holding `child` under `prefix` more nibbles: merges with a leaf or extension.
fn prefixed(prefix: Nibbles, child: Arc<Node>) -> Arc<Node> {
    if prefix.is_empty() {
        return child;
    }
    match &child.kind {
        Kind::Leaf { key, value } => node(Kind::Leaf {
            key: prefix.join(key),
            value: value.clone(),
        }),
        Kind::Extension { key, child } => node(Kind::Extension {
            key: prefix.join(key),
            child: child.clone(),
        }),
        Kind::Branch { .. } => node(Kind::Extension { key: prefix, child }),
    }
}

fn insert(at: Option<&Arc<Node>>, path: Nibbles, value: Vec<u8>) -> Arc<Node> {
    let Some(current) = at else {
        return node(Kind::Leaf { key: path, value });
    };
    match &current.kind {
        Kind::Leaf { key, value: old } => {
            if *key == path {
                return node(Kind::Leaf { key: path, value });
            }
            let common = key.common_prefix_length(&path);
            let mut children: Box<[Option<Arc<Node>>; 16]> = Box::default();
            children[key.get_unchecked(common) as usize] = Some(node(Kind::Leaf {
                key: key.slice(common + 1..),
                value: old.clone(),
            }));
            children[path.get_unchecked(common) as usize] = Some(node(Kind::Leaf {
                key: path.slice(common + 1..),
                value,
            }));
            prefixed(path.slice(..common), node(Kind::Branch { children }))
        }
        Kind::Extension { key, child } => {
            let common = key.common_prefix_length(&path);
            if common == key.len() {
                let child = insert(Some(child), path.slice(common..), value);
                return node(Kind::Extension { key: *key, child });
            }
            let mut children: Box<[Option<Arc<Node>>; 16]> = Box::default();
            children[key.get_unchecked(common) as usize] =
                Some(prefixed(key.slice(common + 1..), child.clone()));
            children[path.get_unchecked(common) as usize] = Some(node(Kind::Leaf {
                key: path.slice(common + 1..),
                value,
            }));
            prefixed(path.slice(..common), node(Kind::Branch { children }))
        }
        Kind::Branch { children } => {
            let index = path.get_unchecked(0) as usize;
            let mut children = children.clone();
            children[index] = Some(insert(children[index].as_ref(), path.slice(1..), value));
            node(Kind::Branch { children })
        }
    }
}

/// The subtree without `path`; `Ok(None)` when it becomes empty, `Err(())` when `path`
/// is not in it (the subtree stays as it is, shared).
fn remove(current: &Arc<Node>, path: &Nibbles) -> Result<Option<Arc<Node>>, ()> {
    match &current.kind {
        Kind::Leaf { key, .. } => match key == path {
            true => Ok(None),
            false => Err(()),
        },
        Kind::Extension { key, child } => {
            if !path.starts_with(key) {
                return Err(());
            }
            Ok(remove(child, &path.slice(key.len()..))?.map(|c| prefixed(*key, c)))
        }
        Kind::Branch { children } => {
            let index = path.get_unchecked(0) as usize;
            let Some(child) = &children[index] else {
                return Err(());
            };
            let replaced = remove(child, &path.slice(1..))?;
            let mut children = children.clone();
            children[index] = replaced;
            let mut present = children.iter().enumerate().filter(|(_, c)| c.is_some());
            match (present.next(), present.next()) {
                (None, _) => Ok(None),
                (Some((only, child)), None) => {
                    let child = child.clone().expect("present");
                    Ok(Some(prefixed(Nibbles::from_nibbles([only as u8]), child)))
                }
                _ => Ok(Some(node(Kind::Branch { children }))),
            }
        }
    }
}

impl Trie {
    /// Sets `key` to `value` (a non-empty RLP encoding).
    pub(crate) fn insert(&mut self, key: B256, value: Vec<u8>) {
        self.root = Some(insert(self.root.as_ref(), Nibbles::unpack(key), value));
    }

    /// Removes `key` (nothing happens when it is absent).
    pub(crate) fn remove(&mut self, key: B256) {
        if let Some(root) = &self.root
            && let Ok(replaced) = remove(root, &Nibbles::unpack(key))
        {
            self.root = replaced;
        }
    }

    /// The root hash (the empty trie's root when empty).
    pub(crate) fn root(&self) -> B256 {
        match &self.root {
            None => EMPTY_ROOT_HASH,
            Some(root) => {
                let reference = root.reference();
                reference
                    .as_hash()
                    .unwrap_or_else(|| keccak256(reference.as_slice()))
            }
        }
    }

    /// The nodes from the root down towards `key` (EIP-1186 proof; it ends where the
    /// path leaves the trie when `key` is absent). Nodes embedded in their parent
    /// (encodings under 32 bytes) are part of the parent's entry, as geth's proofs have
    /// them.
    pub(crate) fn proof(&self, key: B256) -> Vec<Bytes> {
        let Some(mut current) = self.root.clone() else {
            return vec![Bytes::from_static(&[0x80])];
        };
        let path = Nibbles::unpack(key);
        let mut depth = 0;
        let mut nodes = Vec::new();
        loop {
            let encoded = current.encode();
            if nodes.is_empty() || encoded.len() >= 32 {
                nodes.push(Bytes::from(encoded));
            }
            let next = match &current.kind {
                Kind::Leaf { .. } => None,
                Kind::Extension { key, child } => path.slice(depth..).starts_with(key).then(|| {
                    depth += key.len();
                    child.clone()
                }),
                Kind::Branch { children } => {
                    let index = path.get_unchecked(depth) as usize;
                    depth += 1;
                    children[index].clone()
                }
            };
            match next {
                Some(next) => current = next,
                None => return nodes,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use alloy::primitives::U256;
    use alloy::trie::proof::verify_proof;
    use rand::{Rng, SeedableRng};

    use super::*;

    fn reference(map: &BTreeMap<B256, Vec<u8>>) -> B256 {
        let mut builder = alloy::trie::HashBuilder::default();
        for (key, value) in map {
            builder.add_leaf(Nibbles::unpack(key), value);
        }
        builder.root()
    }

    #[test]
    fn matches_the_hash_builder_through_random_inserts_and_removes() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut trie = Trie::default();
        let mut map = BTreeMap::new();
        assert_eq!(trie.root(), EMPTY_ROOT_HASH);
        // Keys from a small pool, so removes and overwrites hit; a few share long
        // prefixes to exercise extensions.
        let pool: Vec<B256> = (0..300u64)
            .map(|i| match i % 10 {
                0 => {
                    let mut k = B256::repeat_byte(0xab);
                    k.0[31] = i as u8;
                    k
                }
                _ => keccak256(i.to_be_bytes()),
            })
            .collect();
        for step in 0..3000 {
            let key = pool[rng.gen_range(0..pool.len())];
            if rng.gen_bool(0.3) {
                trie.remove(key);
                map.remove(&key);
            } else {
                let value = alloy::rlp::encode(U256::from(rng.r#gen::<u64>() | 1));
                trie.insert(key, value.clone());
                map.insert(key, value);
            }
            if step % 97 == 0 || map.len() < 4 {
                assert_eq!(trie.root(), reference(&map), "step {step}");
            }
        }
        assert_eq!(trie.root(), reference(&map));
        // Proofs verify, for present and absent keys.
        let root = trie.root();
        for key in pool.iter().take(60) {
            let proof = trie.proof(*key);
            verify_proof(root, Nibbles::unpack(key), map.get(key).cloned(), &proof)
                .unwrap_or_else(|e| panic!("proof of {key}: {e}"));
        }
        // Removing everything gives the empty root back.
        for key in &pool {
            trie.remove(*key);
        }
        assert_eq!(trie.root(), EMPTY_ROOT_HASH);
    }

    #[test]
    fn a_clone_is_untouched_by_changes_to_the_original() {
        let mut trie = Trie::default();
        for i in 0..50u64 {
            trie.insert(keccak256(i.to_be_bytes()), vec![0x01]);
        }
        let before = trie.root();
        let snapshot = trie.clone();
        trie.insert(keccak256(99u64.to_be_bytes()), vec![0x02]);
        trie.remove(keccak256(3u64.to_be_bytes()));
        assert_ne!(trie.root(), before);
        assert_eq!(snapshot.root(), before);
    }
}

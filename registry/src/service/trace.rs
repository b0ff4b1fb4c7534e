//! The chain query (issue 12): from one identifier, walk its links
//! breadth-first — `down` along them (A → its batch, components,
//! shipment), `up` against them (who links to A, from the reverse index of
//! [`super::refs`]) or both — and return the graph: nodes with their public
//! values, edges with their relation.
//!
//! Bounds, so that one request never walks an unbounded graph: `depth`
//! (<= [`MAX_DEPTH`]), at most `fanout` neighbours taken per node and
//! direction (<= [`MAX_FANOUT`]; the node is then marked
//! `fanout_truncated`), at most [`MAX_VISIT`] nodes visited per request.
//! Every node appears once whatever cycles the links make; `cycle` says
//! whether the links seen form one. Paging: nodes are numbered in the
//! deterministic breadth-first order (neighbours sorted); a page is
//! `offset..offset+limit` of that order with the edges found while
//! expanding those nodes, and `next_offset` names the next page.
//!
//! Foreign identifiers (a prefix not homed here) are nodes with status
//! [`NodeStatus::Foreign`], to be resolved elsewhere; links pointing at
//! them from records here are still followed `up`.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};

use super::refs::{RefIndex, record_values};
use crate::ident::{Identifier, prefix_of};
use crate::model::Value;
use crate::model::link::links_of;
use crate::store::StoreError;

/// Deepest walk allowed.
pub const MAX_DEPTH: u32 = 10;
/// Default depth.
pub const DEFAULT_DEPTH: u32 = 3;
/// Most neighbours taken per node and direction.
pub const MAX_FANOUT: usize = 1000;
/// Default fan-out limit.
pub const DEFAULT_FANOUT: usize = 100;
/// Largest page (nodes).
pub const MAX_LIMIT: usize = 1000;
/// Default page size.
pub const DEFAULT_LIMIT: usize = 200;
/// Most nodes one request visits (all pages up to the one asked).
pub const MAX_VISIT: usize = 10_000;

/// Which way to walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Against the links: who points at me.
    Up,
    /// Along the links: what I point at.
    Down,
    Both,
}

impl Direction {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "up" => Some(Direction::Up),
            "down" => Some(Direction::Down),
            "both" => Some(Direction::Both),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Up => "up",
            Direction::Down => "down",
            Direction::Both => "both",
        }
    }

    fn down(self) -> bool {
        matches!(self, Direction::Down | Direction::Both)
    }

    fn up(self) -> bool {
        matches!(self, Direction::Up | Direction::Both)
    }
}

/// A chain query (already bounded by the caller through [`TraceRequest::new`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceRequest {
    pub root: String,
    pub direction: Direction,
    pub depth: u32,
    /// Only these relations (`None` = all).
    pub relations: Option<Vec<String>>,
    pub fanout: usize,
    pub offset: usize,
    pub limit: usize,
}

impl TraceRequest {
    /// A request with the defaults.
    pub fn new(root: impl Into<String>, direction: Direction) -> Self {
        TraceRequest {
            root: root.into(),
            direction,
            depth: DEFAULT_DEPTH,
            relations: None,
            fanout: DEFAULT_FANOUT,
            offset: 0,
            limit: DEFAULT_LIMIT,
        }
    }

    fn wants(&self, relation: &str) -> bool {
        self.relations.as_ref().is_none_or(|r| r.iter().any(|x| x == relation))
    }
}

/// Whether a node's record is here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeStatus {
    /// Stored on this node.
    Found,
    /// Its prefix is homed here but no record exists.
    Missing,
    /// Its prefix is not homed here: resolve it elsewhere.
    Foreign,
}

impl NodeStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            NodeStatus::Found => "found",
            NodeStatus::Missing => "missing",
            NodeStatus::Foreign => "foreign",
        }
    }
}

/// One identifier of the graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceNode {
    /// As asked (the root) or as written in the first link that reached it.
    pub id: String,
    /// Distance from the root in links.
    pub depth: u32,
    pub status: NodeStatus,
    /// Publicly readable values (none unless found).
    pub values: Vec<Value>,
    /// More neighbours exist than `fanout` allowed.
    pub fanout_truncated: bool,
    /// Its neighbours were looked at (false at the depth limit).
    pub expanded: bool,
}

/// One link: `from` links to `to` with `relation` (ids as in the nodes).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct TraceEdge {
    pub from: String,
    pub to: String,
    pub relation: String,
}

/// The answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceGraph {
    pub root: String,
    pub direction: Direction,
    pub depth: u32,
    pub nodes: Vec<TraceNode>,
    pub edges: Vec<TraceEdge>,
    /// The links seen form a cycle (each node is still listed once).
    pub cycle: bool,
    /// The walk stopped at [`MAX_VISIT`] nodes.
    pub truncated: bool,
    pub offset: usize,
    pub next_offset: Option<usize>,
}

/// Runs a chain query. `Ok(None)` when the root is neither stored here nor
/// linked from anything here (unknown identifier).
pub fn trace(index: &RefIndex, req: &TraceRequest) -> Result<Option<TraceGraph>, StoreError> {
    index.catch_up()?;
    let store = index.store();
    let key_of = |id: &str| -> Vec<u8> {
        match Identifier::parse(id) {
            Ok(i) => store.canonical_key(i.to_prefix_handle().as_bytes()),
            Err(_) => id.as_bytes().to_vec(),
        }
    };
    let status_of = |id: &str, found: bool| {
        if found {
            NodeStatus::Found
        } else {
            let homed = Identifier::parse(id)
                .map(|i| store.longest_homed(prefix_of(i.to_prefix_handle().as_bytes())).is_some())
                .unwrap_or(false);
            if homed { NodeStatus::Missing } else { NodeStatus::Foreign }
        }
    };
    let depth = req.depth.min(MAX_DEPTH);
    let fanout = req.fanout.clamp(1, MAX_FANOUT);
    let limit = req.limit.clamp(1, MAX_LIMIT);
    let page_end = req.offset.saturating_add(limit);

    let mut ids: HashMap<Vec<u8>, usize> = HashMap::new();
    let mut nodes: Vec<TraceNode> = Vec::new();
    let mut keys: Vec<Vec<u8>> = Vec::new();
    let mut queue: VecDeque<usize> = VecDeque::new();
    let mut all_edges: BTreeSet<(usize, usize, String)> = BTreeSet::new();
    let mut page_edges: BTreeSet<(usize, usize, String)> = BTreeSet::new();
    let mut truncated = false;

    let root_key = key_of(&req.root);
    ids.insert(root_key.clone(), 0);
    keys.push(root_key);
    nodes.push(TraceNode {
        id: req.root.clone(),
        depth: 0,
        status: NodeStatus::Missing,
        values: Vec::new(),
        fanout_truncated: false,
        expanded: false,
    });
    queue.push_back(0);

    while let Some(n) = queue.pop_front() {
        let key = keys[n].clone();
        let values = record_values(store, &key)?;
        let found = values.is_some();
        let values = values.unwrap_or_default();
        nodes[n].status = status_of(&nodes[n].id.clone(), found);
        let in_page = n >= req.offset && n < page_end;
        if in_page {
            nodes[n].values = values.iter().filter(|v| v.is_public_read()).cloned().collect();
        }
        if nodes[n].depth >= depth || n >= page_end {
            continue;
        }
        nodes[n].expanded = true;
        let mut neighbours: Vec<(String, Vec<u8>, String, bool)> = Vec::new(); // (id, key, relation, outgoing)
        if req.direction.down() {
            let mut out: Vec<(String, Vec<u8>, String, bool)> = links_of(&values)
                .into_iter()
                .filter(|l| req.wants(&l.relation))
                .map(|l| {
                    let k = key_of(&l.target);
                    (l.target, k, l.relation, true)
                })
                .collect();
            out.sort();
            out.dedup();
            if out.len() > fanout {
                out.truncate(fanout);
                nodes[n].fanout_truncated = true;
            }
            neighbours.extend(out);
        }
        if req.direction.up() {
            let mut taken = 0;
            let mut after: Option<(Vec<u8>, String)> = None;
            'pages: loop {
                let page = store.links_to(&key, after.as_ref().map(|(k, r)| (k.as_slice(), r.as_str())), fanout + 1)?;
                let Some(last) = page.last().cloned() else { break };
                let more = page.len() > fanout;
                for (src, rel) in page {
                    if !req.wants(&rel) {
                        continue;
                    }
                    if taken == fanout {
                        nodes[n].fanout_truncated = true;
                        break 'pages;
                    }
                    taken += 1;
                    let id = String::from_utf8_lossy(&src).into_owned();
                    neighbours.push((id, src, rel, false));
                }
                if !more {
                    break;
                }
                after = Some(last);
            }
        }
        for (id, k, rel, outgoing) in neighbours {
            let m = match ids.get(&k) {
                Some(&m) => m,
                None => {
                    if nodes.len() >= MAX_VISIT {
                        truncated = true;
                        continue;
                    }
                    let m = nodes.len();
                    ids.insert(k.clone(), m);
                    keys.push(k);
                    nodes.push(TraceNode {
                        id,
                        depth: nodes[n].depth + 1,
                        status: NodeStatus::Missing,
                        values: Vec::new(),
                        fanout_truncated: false,
                        expanded: false,
                    });
                    queue.push_back(m);
                    m
                }
            };
            let e = if outgoing { (n, m, rel) } else { (m, n, rel) };
            if in_page {
                page_edges.insert(e.clone());
            }
            all_edges.insert(e);
        }
    }
    if nodes[0].status != NodeStatus::Found && nodes.len() == 1 {
        return Ok(None);
    }
    let cycle = has_cycle(nodes.len(), &all_edges);
    let total = nodes.len();
    let id = |i: usize| nodes[i].id.clone();
    let edges = page_edges.into_iter().map(|(a, b, relation)| TraceEdge { from: id(a), to: id(b), relation }).collect();
    let page: Vec<TraceNode> = nodes.iter().skip(req.offset).take(limit).cloned().collect();
    Ok(Some(TraceGraph {
        root: req.root.clone(),
        direction: req.direction,
        depth,
        nodes: page,
        edges,
        cycle,
        truncated,
        offset: req.offset,
        next_offset: (total > page_end).then_some(page_end),
    }))
}

/// Whether the directed edges contain a cycle (iterative three-colour DFS).
fn has_cycle(n: usize, edges: &BTreeSet<(usize, usize, String)>) -> bool {
    let mut adj: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (a, b, _) in edges {
        adj[*a].push(*b);
    }
    let mut colour = vec![0u8; n]; // 0 new, 1 on stack, 2 done
    for s in 0..n {
        if colour[s] != 0 {
            continue;
        }
        let mut stack = vec![(s, 0usize)];
        colour[s] = 1;
        while let Some((v, i)) = stack.pop() {
            if let Some(&w) = adj[v].get(i) {
                stack.push((v, i + 1));
                match colour[w] {
                    1 => return true,
                    0 => {
                        colour[w] = 1;
                        stack.push((w, 0));
                    }
                    _ => {}
                }
            } else {
                colour[v] = 2;
            }
        }
    }
    false
}

/// The ids of a graph's nodes, for tests and the CLI.
pub fn node_ids(g: &TraceGraph) -> HashSet<&str> {
    g.nodes.iter().map(|n| n.id.as_str()).collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::model::Prefix;
    use crate::model::link::Link;
    use crate::store::{SledStore, Store, StoreExt, WriteCtx};

    fn setup() -> (tempfile::TempDir, RefIndex) {
        let dir = tempfile::tempdir().unwrap();
        let s: Arc<dyn Store> = Arc::new(SledStore::open_path(dir.path().join("s")).unwrap());
        let ctx = WriteCtx::new(1, "t");
        s.put_prefix(&Prefix::homed("88.1", 1), &ctx).unwrap();
        let put = |id: &str, links: &[(&str, &str)]| {
            let mut vals = vec![Value::new(1, "name", id)];
            for (i, (rel, t)) in links.iter().enumerate() {
                vals.push(Link::new(*rel, *t).to_value(100 + i as u32));
            }
            s.create_record(&s.canonical_key(id.as_bytes()), vals, true, &ctx).unwrap();
        };
        put("88.1/LOT", &[("produced_by", "99.9/FACTORY")]);
        for i in ["88.1/I1", "88.1/I2", "88.1/I3"] {
            put(i, &[("batch", "88.1/LOT"), ("shipment", "88.1/SHIP")]);
        }
        put("88.1/SHIP", &[]);
        (dir, RefIndex::new(s))
    }

    #[test]
    fn both_directions_limits_and_paging() {
        let (_d, idx) = setup();
        let g = trace(&idx, &TraceRequest::new("88.1/LOT", Direction::Up)).unwrap().unwrap();
        assert_eq!(node_ids(&g), HashSet::from(["88.1/LOT", "88.1/I1", "88.1/I2", "88.1/I3"]));
        assert_eq!(g.edges.len(), 3);
        assert!(!g.cycle);
        let g = trace(&idx, &TraceRequest::new("88.1/I2", Direction::Down)).unwrap().unwrap();
        assert_eq!(node_ids(&g), HashSet::from(["88.1/I2", "88.1/LOT", "88.1/SHIP", "99.9/FACTORY"]));
        let f = g.nodes.iter().find(|n| n.id == "99.9/FACTORY").unwrap();
        assert_eq!(f.status, NodeStatus::Foreign);
        let mut r = TraceRequest::new("88.1/LOT", Direction::Both);
        let g = trace(&idx, &r).unwrap().unwrap();
        assert_eq!(g.nodes.len(), 6);
        assert_eq!(g.edges.len(), 7);
        r.depth = 1;
        r.fanout = 2;
        let g = trace(&idx, &r).unwrap().unwrap();
        assert!(g.nodes[0].fanout_truncated);
        assert_eq!(g.nodes.len(), 4); // factory + 2 of 3 items
        r.depth = 3;
        r.fanout = 100;
        r.limit = 2;
        let p1 = trace(&idx, &r).unwrap().unwrap();
        assert_eq!((p1.nodes.len(), p1.next_offset), (2, Some(2)));
        r.relations = Some(vec!["batch".into()]);
        r.limit = 100;
        r.offset = 0;
        let g = trace(&idx, &r).unwrap().unwrap();
        assert_eq!(g.nodes.len(), 4);
        assert!(trace(&idx, &TraceRequest::new("88.1/NONE", Direction::Both)).unwrap().is_none());
    }

    #[test]
    fn cycle_lists_each_node_once() {
        let (_d, idx) = setup();
        let s = idx.store();
        let ctx = WriteCtx::new(2, "t");
        s.add_values(&s.canonical_key(b"88.1/SHIP"), vec![Link::new("batch", "88.1/I1").to_value(9)], false, &ctx)
            .unwrap();
        let mut r = TraceRequest::new("88.1/I1", Direction::Down);
        r.depth = MAX_DEPTH;
        let g = trace(&idx, &r).unwrap().unwrap();
        assert!(g.cycle);
        assert_eq!(g.nodes.len(), 4);
        assert_eq!(node_ids(&g).len(), 4);
    }
}

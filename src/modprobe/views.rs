//! `modprobe --show-depends --tree` and `--show-depends --json`: what a
//! load would do, from the same engine as the plain `-D` lines.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::rc::Rc;

use modutils_core::probe::{Action, Engine, Level, ModId, Probed, Report, Sink};

use super::args::Settings;
use super::out::Frontend;
use crate::json::Json;

/// Why `--tree`/`--json` cannot be used with the other options given.
pub(super) fn misuse(s: &Settings) -> Option<&'static str> {
    if !s.tree && !s.json {
        return None;
    }
    if s.tree && s.json {
        return Some("--tree and --json cannot be combined.");
    }
    let show_depends = s.show && !s.remove && !s.resolve_alias;
    let other_mode = s.show_config || s.show_modversions || s.show_exports;
    if !show_depends || other_mode {
        return Some("--tree and --json only go with --show-depends (-D).");
    }
    None
}

/// The `--json` document being built: one entry per module loaded.
#[derive(Default, Clone)]
pub(super) struct Collected(Rc<RefCell<State>>);

#[derive(Default)]
struct State {
    /// Actions of the load in progress.
    actions: Vec<Json>,
    loads: Vec<Json>,
}

impl Collected {
    /// A report that keeps the actions and passes messages to `frontend`
    /// (which must not show the actions itself).
    pub(super) fn report(&self, frontend: Frontend) -> JsonReport {
        JsonReport {
            frontend,
            collected: self.clone(),
        }
    }

    /// Closes the load of `module`, asked for as `argument`.
    pub(super) fn finish_load(&self, argument: &OsStr, module: &[u8], probed: Probed) {
        let mut st = self.0.borrow_mut();
        let actions = std::mem::take(&mut st.actions);
        st.loads.push(Json::Obj(vec![
            ("argument", Json::bytes(argument.as_bytes())),
            ("module", Json::bytes(module)),
            ("blacklisted", Json::Bool(probed == Probed::Blacklisted)),
            ("actions", Json::Arr(actions)),
        ]));
    }

    pub(super) fn document(&self) -> String {
        let loads = std::mem::take(&mut self.0.borrow_mut().loads);
        Json::Obj(vec![("loads", Json::Arr(loads))]).to_text()
    }
}

pub(super) struct JsonReport {
    frontend: Frontend,
    collected: Collected,
}

impl Sink for JsonReport {
    fn log(&mut self, level: Level, message: &[u8]) {
        self.frontend.log(level, message);
    }
}

impl Report for JsonReport {
    fn show(&mut self, action: Action<'_>) {
        let bytes = |b: &[u8]| Json::bytes(b);
        let entry = match action {
            Action::Insmod {
                module,
                path,
                options,
            } => Json::Obj(vec![
                ("action", Json::str("insmod")),
                ("module", bytes(module)),
                ("path", bytes(path.as_os_str().as_bytes())),
                ("options", bytes(options)),
            ]),
            Action::Install {
                module,
                command,
                options,
            } => Json::Obj(vec![
                ("action", Json::str("install")),
                ("module", bytes(module)),
                ("command", bytes(command)),
                ("options", bytes(options)),
            ]),
            Action::Builtin { name } => Json::Obj(vec![
                ("action", Json::str("builtin")),
                ("module", bytes(name)),
            ]),
            // Removal is never shown as JSON (`misuse` refuses -r).
            Action::Rmmod { .. } | Action::Remove { .. } => return,
        };
        self.collected.0.borrow_mut().actions.push(entry);
        self.frontend.show(action);
    }

    fn fatal(&mut self, message: &[u8]) {
        self.frontend.fatal(message);
    }
}

/// One tree node: a module, and how its parent pulls it in.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Node {
    id: ModId,
    how: How,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum How {
    Requested,
    Dependency,
    SoftPre,
    SoftPost,
}

/// `--show-depends --tree ARG`: each module the argument resolves to, with
/// the modules it needs beneath it. modules.dep lists every module a
/// module needs, directly or not; the tree shows each under the module
/// that needs it directly (the transitive reduction of that list), and
/// soft dependencies as `(softdep pre)`/`(softdep post)`. Where the plain
/// `-D` would show nothing (a blacklisted alias), so does the tree.
pub(super) fn tree(engine: &mut Engine, s: &Settings, arg: &OsStr) -> bool {
    let Some(ids) = super::resolve(engine, s, arg) else {
        return false;
    };
    let mut text = Vec::new();
    for id in ids {
        if engine.is_blacklisted(id) && (s.use_blacklist || engine.alias(id).is_some()) {
            continue;
        }
        let graph = Graph::build(engine, id, s.ignore_commands);
        let root = Node {
            id,
            how: How::Requested,
        };
        text.extend(crate::tree::render(
            &[root],
            |n| graph.label(n),
            |n| graph.children.get(&n.id).cloned().unwrap_or_default(),
        ));
    }
    super::out::print(&text);
    true
}

/// Every module reachable from the target, read once from the engine.
struct Graph {
    names: HashMap<ModId, (Vec<u8>, bool)>,
    children: HashMap<ModId, Vec<Node>>,
}

impl Graph {
    fn build(engine: &mut Engine, target: ModId, ignore_commands: bool) -> Graph {
        let mut g = Graph {
            names: HashMap::new(),
            children: HashMap::new(),
        };
        let mut todo = vec![target];
        while let Some(m) = todo.pop() {
            if g.children.contains_key(&m) {
                continue;
            }
            let builtin = engine.path(m).is_none() && engine.is_builtin(m);
            g.names.insert(m, (engine.name(m).to_vec(), builtin));
            // The engine's order is deepest first; show modules.dep's.
            let mut deps = engine.dependencies(m);
            deps.reverse();
            let closure: Vec<Vec<ModId>> = deps.iter().map(|&d| engine.dependencies(d)).collect();
            let direct = deps
                .iter()
                .filter(|d| !closure.iter().any(|c| c.contains(d)))
                .map(|&id| Node {
                    id,
                    how: How::Dependency,
                });
            let mut kids: Vec<Node> = direct.collect();
            // With -i, the target's soft dependencies are not loaded.
            if !(ignore_commands && m == target) {
                let (pre, post) = engine.softdeps(m);
                let soft = |ids: Vec<ModId>, how| ids.into_iter().map(move |id| Node { id, how });
                kids.extend(soft(pre, How::SoftPre));
                kids.extend(soft(post, How::SoftPost));
            }
            todo.extend(kids.iter().map(|k| k.id));
            g.children.insert(m, kids);
        }
        g
    }

    fn label(&self, n: Node) -> Vec<u8> {
        let (name, builtin) = &self.names[&n.id];
        let mut label = name.clone();
        if *builtin {
            label.extend_from_slice(b" (builtin)");
        }
        match n.how {
            How::SoftPre => label.extend_from_slice(b" (softdep pre)"),
            How::SoftPost => label.extend_from_slice(b" (softdep post)"),
            How::Requested | How::Dependency => {}
        }
        label
    }
}

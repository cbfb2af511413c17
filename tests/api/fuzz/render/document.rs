//! Documents drawn from the schema: selections, directives, fragments, operations, and the
//! JSON object of an operation.
use std::fmt::Write as _;

use serde_json::{json, Map, Value};

use super::{
    values::{Hint, V},
    Render,
};
use crate::fuzz::{
    schema_model::named,
    strategies::{
        deep, ArgVal, Dir, DirArg, Doc, Frag, Op, QuerySpec, Sel, Typed, DIRECTIVES, SOUP,
    },
};

impl Render<'_> {
    fn dirs(&mut self, dirs: &[Dir], out: &mut String) {
        for d in dirs {
            let name = DIRECTIVES[usize::from(d.name) % DIRECTIVES.len()];
            let plain = matches!(name, "include" | "skip")
                && matches!(d.arg, DirArg::Bool(_) | DirArg::Var(_));
            if self.clean && !plain {
                continue;
            }
            let _ = write!(out, " @{name}");
            match &d.arg {
                DirArg::None => {}
                DirArg::Bool(b) => {
                    let _ = write!(out, "(if: {b})");
                }
                DirArg::Var(b) => {
                    let var = format!("d{}", self.defs.len());
                    self.defs.push(format!("${var}: Boolean!"));
                    self.vars.insert(var.clone(), Value::Bool(*b));
                    let _ = write!(out, "(if: ${var})");
                }
                DirArg::Wild(w) => {
                    out.push_str("(if: ");
                    self.wild(w).gql(out);
                    out.push(')');
                }
            }
            if self.clean {
                break;
            }
        }
    }

    /// ` { … }` of `sels` on type `on`.
    fn selection_set(&mut self, on: &str, sels: &[Sel], out: &mut String) {
        out.push_str(" {");
        if sels.is_empty() {
            // `{ }` is a syntax error; the token soup and random text cover those.
            out.push_str(" __typename");
        }
        for s in sels {
            out.push(' ');
            self.selection(on, s, out);
        }
        out.push_str(" }");
    }

    fn selection(&mut self, on: &str, sel: &Sel, out: &mut String) {
        match sel {
            Sel::Typename { alias } => {
                if let Some(a) = alias {
                    let _ = write!(out, "t{a}: ");
                }
                out.push_str("__typename");
            }
            Sel::Spread { frag, dirs } => {
                // A fragment on this very type (defined), in a clean document; anywhere, or
                // an undefined one now and then, otherwise.
                let f = usize::from(*frag);
                let pick = if self.clean {
                    self.frag_types.iter().position(|t| t == on)
                } else if self.frag_types.is_empty() || f % 16 == 15 {
                    Some(self.frag_types.len() + f % 2)
                } else {
                    Some(f % self.frag_types.len())
                };
                match pick {
                    Some(i) => {
                        let _ = write!(out, "...F{i}");
                        self.dirs(dirs, out);
                    }
                    None => out.push_str("__typename"),
                }
            }
            Sel::Inline {
                on: cond,
                dirs,
                sub,
            } => {
                out.push_str("...");
                let inner = match cond {
                    Some(p) if !self.clean => {
                        let t = self.m.type_name(*p).to_owned();
                        let _ = write!(out, " on {t}");
                        t
                    }
                    _ => on.to_owned(),
                };
                self.dirs(dirs, out);
                let inner = if self.m.fields(&inner).is_some() {
                    inner
                } else {
                    on.to_owned()
                };
                self.selection_set(&inner, sub, out);
            }
            Sel::Field {
                strict,
                own,
                pick,
                alias,
                args,
                dirs,
                sub,
            } => {
                let (strict, own) = (*strict || self.clean, *own || self.clean);
                let field = match self.m.fields(on) {
                    Some(fs) if own && !fs.is_empty() => Some(&fs[usize::from(*pick) % fs.len()]),
                    _ => None,
                };
                let name = field.map_or_else(|| self.m.name(*pick).to_owned(), |f| f.name.clone());
                if self.clean {
                    // Two fields of one name with other arguments would conflict.
                    if field.is_some_and(|f| !f.args.is_empty()) {
                        self.aliases += 1;
                        let _ = write!(out, "f{}: ", self.aliases);
                    }
                } else if let Some(a) = alias {
                    let _ = write!(out, "a{a}: ");
                }
                out.push_str(&name);
                let mut rendered: Vec<(String, V)> = Vec::new();
                match field {
                    Some(f) if strict => {
                        for (i, (arg, ty)) in f.args.iter().enumerate() {
                            let val = match args.get(i) {
                                Some((_, v)) => v.clone(),
                                None if !ty.nullable => ArgVal::Typed(Typed::default()),
                                None => continue,
                            };
                            let v = self.arg(&val, Some(ty), Hint::of(&f.name, arg));
                            rendered.push((arg.clone(), v));
                        }
                    }
                    _ => {
                        for (pick, val) in args {
                            let own_arg = field
                                .filter(|f| !f.args.is_empty() && pick % 4 != 0)
                                .map(|f| &f.args[usize::from(*pick) % f.args.len()]);
                            let (arg, ty) = match own_arg {
                                Some((a, t)) => (a.clone(), Some(t)),
                                None => (self.m.name(*pick).to_owned(), None),
                            };
                            let v = self.arg(val, ty, Hint::of(&name, &arg));
                            rendered.push((arg, v));
                        }
                    }
                }
                if !rendered.is_empty() {
                    out.push('(');
                    for (i, (arg, v)) in rendered.iter().enumerate() {
                        if i > 0 {
                            out.push_str(", ");
                        }
                        out.push_str(arg);
                        out.push_str(": ");
                        v.gql(out);
                    }
                    out.push(')');
                }
                self.dirs(dirs, out);
                let child = field.map(|f| named(&f.ty).to_owned());
                let child_fields = child.as_deref().and_then(|c| self.m.fields(c));
                match (child, child_fields) {
                    (Some(_), Some(cf)) if strict && sub.is_empty() => {
                        // The first field that needs neither arguments nor a selection.
                        let leaf = cf
                            .iter()
                            .find(|f| {
                                f.args.iter().all(|(_, t)| t.nullable)
                                    && self.m.fields(named(&f.ty)).is_none()
                            })
                            .map_or("__typename", |f| f.name.as_str());
                        let _ = write!(out, " {{ {leaf} }}");
                    }
                    (Some(c), Some(_)) => self.selection_set(&c, sub, out),
                    (Some(_), None) if strict => {}
                    (c, _) => {
                        if !sub.is_empty() {
                            let c = c.unwrap_or_else(|| on.to_owned());
                            self.selection_set(&c, sub, out);
                        }
                    }
                }
            }
        }
    }

    /// `(query, variables, operationName)` of a document.
    fn doc(&mut self, d: &Doc) -> (String, Option<Value>, Option<Value>) {
        self.clean = !d.chaos;
        self.aliases = 0;
        // Clean documents have no fragments: one that is never spread is an error.
        let doc_frags: &[Frag] = if self.clean { &[] } else { &d.frags };
        self.frag_types = doc_frags
            .iter()
            .map(|f| f.on.map_or("Nope", |p| self.m.type_name(p)).to_owned())
            .collect();
        let kind = if self.clean { d.kind % 3 } else { d.kind % 4 };
        let (keyword, root) = match kind {
            0 => ("", "Query"),
            1 => ("query", "Query"),
            2 => ("mutation", "Mutation"),
            _ => ("subscription", "Query"),
        };
        let name = d.name.map(|n| format!("Op{n}"));
        let mut body = String::new();
        self.selection_set(root, &d.sels, &mut body);
        let mut frags = String::new();
        for (i, f) in doc_frags.iter().enumerate() {
            let on = self.frag_types[i].clone();
            let _ = write!(frags, " fragment F{i} on {on}");
            self.dirs(&f.dirs, &mut frags);
            let inner = if self.m.fields(&on).is_some() {
                on
            } else {
                root.to_owned()
            };
            self.selection_set(&inner, &f.sels, &mut frags);
        }
        let mut other = String::new();
        let other_op = d.other.as_ref().filter(|_| !self.clean);
        let other_name = other_op.map(|(n, _)| format!("Other{n}"));
        if let (Some((_, sels)), Some(n)) = (other_op, &other_name) {
            let _ = write!(other, " query {n}");
            let defs_before = self.defs.len();
            self.selection_set("Query", sels, &mut other);
            // The other operation declares nothing: its variables are undeclared.
            self.defs.truncate(defs_before);
        }
        let mut q = String::new();
        if kind != 0 || name.is_some() || !self.defs.is_empty() {
            q.push_str(if keyword.is_empty() { "query" } else { keyword });
            if let Some(n) = &name {
                q.push(' ');
                q.push_str(n);
            }
            if !self.defs.is_empty() {
                let _ = write!(q, "({})", self.defs.join(", "));
            }
        }
        q.push_str(&body);
        q.push_str(&frags);
        q.push_str(&other);
        for (k, v) in &d.stray_vars {
            self.vars.insert(format!("x{k}"), v.clone());
        }
        let vars = Value::Object(std::mem::take(&mut self.vars));
        let shape = if self.clean { 0 } else { d.vars_shape % 5 };
        let variables = match shape {
            0 => Some(vars),
            1 => None,
            2 => Some(Value::Null),
            3 => Some(Value::String(vars.to_string())),
            _ => Some(Value::Array(vec![vars])),
        };
        let op_name = match if self.clean {
            d.op_name % 2
        } else {
            d.op_name % 6
        } {
            0 => None,
            1 => Some(name.map_or(Value::Null, Value::String)),
            2 => Some(other_name.map_or(Value::Null, Value::String)),
            3 => Some(json!("Unknown")),
            4 => Some(Value::Null),
            _ => Some(json!(7)),
        };
        (q, variables, op_name)
    }

    pub(super) fn op(&mut self, op: &Op) -> Value {
        self.defs.clear();
        self.vars.clear();
        let (query, variables, op_name) = match &op.query {
            QuerySpec::Doc(d) => self.doc(d),
            QuerySpec::Text(t) => (t.render(), None, None),
            QuerySpec::Soup(tokens) => {
                let words: Vec<&str> = tokens
                    .iter()
                    .map(|t| {
                        let t = usize::from(*t);
                        if t % 3 == 0 {
                            self.m.names[t % self.m.names.len()].as_str()
                        } else {
                            SOUP[t % SOUP.len()]
                        }
                    })
                    .collect();
                (words.join(" "), None, None)
            }
            QuerySpec::Deep { how, n } => (deep(*how, *n), None, None),
        };
        let mut o = Map::new();
        o.insert("query".into(), Value::String(query));
        if let Some(v) = variables {
            o.insert("variables".into(), v);
        }
        if let Some(n) = op_name {
            o.insert("operationName".into(), n);
        }
        match op.envelope % 4 {
            1 => {
                o.insert("query".into(), op.odd.clone());
            }
            2 => {
                o.insert("extensions".into(), op.odd.clone());
            }
            3 => {
                o.remove("query");
            }
            _ => {}
        }
        Value::Object(o)
    }
}

//! Bounds on what one GraphQL operation may ask for, checked before anything runs, and on
//! how long it may run. Every refusal is a coded error naming the limit and its value.
//!
//! async-graphql has knobs for most of these, but its refusals carry no `extensions.code`
//! and its walks expand fragments without memoising (a few nested fragments spread many
//! times would take exponential time). So the document is measured here first, once per
//! fragment; the library's recursive-depth and directive knobs stay on behind it as a
//! backstop. Its depth knob is not used: it counts introspection, whose standard query
//! (GraphiQL's) is deeper than the API's depth limit.
use std::{
    collections::{HashMap, HashSet},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Duration,
};

use async_graphql::{
    extensions::{
        Extension, ExtensionContext, ExtensionFactory, NextExecute, NextPrepareRequest,
        NextRequest, NextValidation,
    },
    parser::types::{
        BaseType, DocumentOperations, ExecutableDocument, OperationDefinition, OperationType,
        Selection, SelectionSet, Type,
    },
    Name, Positioned, Request, Response, ServerError, ServerResult, ValidationResult,
    Value as ConstValue, Variables,
};

use crate::{
    config::Limits,
    domain::page::MAX_FIRST,
    error::{AppError, ErrorCode},
};

/// Deepest nesting of `{`, `[` and `(` a document may have (outside strings and comments).
/// The parser recurses once or more per bracket before any limit of ours can look at the
/// document, and only a guard on the remaining stack stops it: a few hundred nested
/// inline fragments overflowed the stack of a debug build and aborted the process. Far
/// beyond any real query (selections nest at most `--max-recursive-depth`, 24, deep).
pub const MAX_NESTING: usize = 128;

/// The most a single list field can be charged, so that sums of costs never overflow.
const COST_CAP: usize = u32::MAX as usize;

/// Complexity of a list field taking `first`: one for the field, plus its selection once
/// per item it may return (`first` clamped to 0..=100, as the resolver refuses the rest).
pub fn page_cost(first: i32, child_complexity: usize) -> usize {
    let items = usize::try_from(first.clamp(0, MAX_FIRST)).unwrap_or(0);
    items
        .saturating_mul(child_complexity)
        .saturating_add(1)
        .min(COST_CAP)
}

/// The extension enforcing [`Limits`] on every operation.
pub struct QueryLimits(Arc<LimitsExtension>);

impl QueryLimits {
    /// The extension for `limits`.
    pub fn new(limits: &Limits) -> Self {
        QueryLimits(Arc::new(LimitsExtension { limits: *limits }))
    }
}

impl ExtensionFactory for QueryLimits {
    fn create(&self) -> Arc<dyn Extension> {
        self.0.clone()
    }
}

/// One instance serves every request: it holds nothing but the limits.
pub struct LimitsExtension {
    limits: Limits,
}

#[async_graphql::async_trait::async_trait]
impl Extension for LimitsExtension {
    /// Every error leaves with a code. Errors outside any field (syntax, validation, the
    /// library's own limits, a missing operation name) are about the client's document:
    /// `BAD_USER_INPUT` unless they already carry a code. Inside a field, the resolvers'
    /// errors carry their own; one without a code comes from the library coercing an
    /// argument while executing (a required variable given no value, a variable's value
    /// that is not of its type, which validation does not check): `BAD_USER_INPUT` too.
    /// Anything else without a code is a bug: `INTERNAL`, its detail only in the log.
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let mut response = next.run(ctx).await;
        for error in &mut response.errors {
            let coded = error
                .extensions
                .as_ref()
                .is_some_and(|e| e.get("code").is_some());
            if coded {
                continue;
            }
            if error.path.is_empty() || is_input_coercion(&error.message) {
                let extensions = error.extensions.get_or_insert_with(Default::default);
                extensions.set("code", ErrorCode::BadUserInput.as_str());
            } else {
                tracing::error!(message = %error.message, path = ?error.path, "an error without a code");
                let internal = server_error(AppError::internal(anyhow::anyhow!("uncoded error")));
                error.message = internal.message;
                error.extensions = internal.extensions;
            }
        }
        response
    }

    /// Parses the document once and measures it before the library walks it; a document
    /// nested absurdly deep is refused before it is parsed.
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        mut request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        // The document borrows the request: its variables are set aside meanwhile.
        let variables = std::mem::take(&mut request.variables);
        let name = request.operation_name.clone();
        let document = parse_guarded(&mut request)?;
        check_document(document, &self.limits)?;
        check_variables(document, name.as_deref(), &variables)?;
        request.variables = variables;
        next.run(ctx, request).await
    }

    /// Complexity needs the schema's per-field costs, so it is read from validation.
    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let result = next.run(ctx).await?;
        let max = self.limits.max_complexity;
        if result.complexity > max {
            return Err(vec![refusal(format!(
                "query is too complex: complexity {} exceeds the complexity limit of {max} \
                 (a list costs `first` times its selection)",
                result.complexity
            ))]);
        }
        Ok(result)
    }

    /// Stops an operation that runs longer than the timeout (its transaction rolls back).
    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        if let Some(executed) = ctx.data_opt::<Executed>() {
            executed.0.store(true, Ordering::Relaxed);
        }
        let after_ms = self.limits.query_timeout_ms;
        match tokio::time::timeout(
            Duration::from_millis(after_ms),
            next.run(ctx, operation_name),
        )
        .await
        {
            Ok(response) => response,
            Err(_) => {
                tracing::warn!(
                    operation = operation_name.unwrap_or("<unnamed>"),
                    after_ms,
                    "operation timed out"
                );
                Response::from_errors(vec![server_error(AppError::Timeout { after_ms })])
            }
        }
    }
}

/// Whether `message` is one of async-graphql's own errors about an argument's value,
/// raised while executing a field: a variable without a value (`Variable v is not
/// defined.`) or a value the argument's type does not accept (`Failed to parse "Int": …`,
/// `Expected input type "ID", found …`, `Invalid value for argument …`).
fn is_input_coercion(message: &str) -> bool {
    (message.starts_with("Variable ") && message.ends_with(" is not defined."))
        || message.starts_with("Failed to parse \"")
        || message.starts_with("Expected input type \"")
        || message.starts_with("Invalid value for argument")
}

/// A query-shape refusal: `BAD_USER_INPUT` on `query`.
fn refusal(message: String) -> ServerError {
    server_error(AppError::bad_input("query", message))
}

pub(super) fn server_error(e: AppError) -> ServerError {
    let e = e.to_graphql();
    let mut error = ServerError::new(e.message, None);
    error.extensions = e.extensions;
    error
}

/// The request's document, parsed once (and kept in the request): refused unparsed when
/// its brackets nest deeper than [`MAX_NESTING`].
pub fn parse_guarded(request: &mut Request) -> ServerResult<&ExecutableDocument> {
    check_nesting(&request.query)?;
    request.parsed_query()
}

/// The kind of the operation `request` would run, when its document parses and names one
/// (otherwise executing it reports why).
pub fn operation_type(request: &mut Request) -> Option<OperationType> {
    let name = request.operation_name.clone();
    let document = parse_guarded(request).ok()?;
    selected_operation(document, name.as_deref()).map(|op| op.ty)
}

/// Set when an operation gets as far as execution: attached to a request, it tells a
/// request error (refused before running, answered without `data`) from an executed one.
#[derive(Debug, Clone, Default)]
pub struct Executed(Arc<AtomicBool>);

impl Executed {
    /// Whether the operation it was attached to began executing.
    pub fn get(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// Coerces the variables of the operation to run as far as their types tell without the
/// schema, before anything runs: a required variable without a value, `null` where the
/// type is non-null, and a value that is no built-in scalar's where one is named
/// (`Int`, `Float`, `String`, `Boolean`, `ID`) are request errors. Enums, input objects
/// and custom scalars are checked when the argument is read.
fn check_variables(
    document: &ExecutableDocument,
    operation_name: Option<&str>,
    variables: &Variables,
) -> ServerResult<()> {
    let Some(operation) = selected_operation(document, operation_name) else {
        return Ok(());
    };
    for definition in &operation.variable_definitions {
        let definition = &definition.node;
        let name = definition.name.node.as_str();
        let ty = &definition.var_type.node;
        let fault = match variables.get(&definition.name.node) {
            None if definition.default_value.is_some() || ty.nullable => None,
            None => Some(format!(
                "variable `${name}` of required type `{ty}` was not provided"
            )),
            Some(value) => (!coerces(value, ty))
                .then(|| format!("variable `${name}` got a value that is not a `{ty}`: {value}")),
        };
        if let Some(message) = fault {
            return Err(server_error(AppError::bad_input(name, message)));
        }
    }
    Ok(())
}

/// The operation a request names, or its only one.
fn selected_operation<'a>(
    document: &'a ExecutableDocument,
    name: Option<&str>,
) -> Option<&'a OperationDefinition> {
    match (&document.operations, name) {
        (DocumentOperations::Single(op), _) => Some(&op.node),
        (DocumentOperations::Multiple(ops), Some(name)) => ops
            .iter()
            .find(|(n, _)| n.as_str() == name)
            .map(|(_, op)| &op.node),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => {
            ops.values().next().map(|op| &op.node)
        }
        (DocumentOperations::Multiple(_), None) => None,
    }
}

/// Whether `value` may be a `ty` as far as the type's shape and built-in scalars tell.
fn coerces(value: &ConstValue, ty: &Type) -> bool {
    match (value, &ty.base) {
        (ConstValue::Null, _) => ty.nullable,
        (ConstValue::List(items), BaseType::List(inner)) => {
            items.iter().all(|item| coerces(item, inner))
        }
        // A single value where a list is wanted is a list of one.
        (value, BaseType::List(inner)) => coerces(value, inner),
        (value, BaseType::Named(name)) => match (name.as_str(), value) {
            ("Int", ConstValue::Number(n)) => n.as_i64().is_some_and(|i| i32::try_from(i).is_ok()),
            ("Float", ConstValue::Number(_)) => true,
            ("String", ConstValue::String(_)) | ("Boolean", ConstValue::Boolean(_)) => true,
            ("ID", ConstValue::String(_)) => true,
            ("ID", ConstValue::Number(n)) => n.is_i64() || n.is_u64(),
            ("Int" | "Float" | "String" | "Boolean" | "ID", _) => false,
            _ => true,
        },
    }
}

/// Refuses a query whose brackets nest deeper than [`MAX_NESTING`], by a scan of the text
/// that skips comments and (block) strings as the parser does.
fn check_nesting(query: &str) -> ServerResult<()> {
    enum At {
        Code,
        Comment,
        Str,
        Block,
    }
    let bytes = query.as_bytes();
    let (mut at, mut depth, mut i) = (At::Code, 0usize, 0usize);
    while let Some(&b) = bytes.get(i) {
        match at {
            At::Code => match b {
                b'#' => at = At::Comment,
                b'"' if bytes[i..].starts_with(b"\"\"\"") => {
                    at = At::Block;
                    i += 2;
                }
                b'"' => at = At::Str,
                b'{' | b'[' | b'(' => {
                    depth += 1;
                    if depth > MAX_NESTING {
                        return Err(refusal(format!(
                            "query is nested too deeply: brackets nest deeper than \
                             {MAX_NESTING}"
                        )));
                    }
                }
                b'}' | b']' | b')' => depth = depth.saturating_sub(1),
                _ => {}
            },
            At::Comment => {
                if b == b'\n' || b == b'\r' {
                    at = At::Code;
                }
            }
            At::Str => match b {
                b'\\' => i += 1,
                b'"' | b'\n' | b'\r' => at = At::Code,
                _ => {}
            },
            At::Block => {
                if bytes[i..].starts_with(b"\\\"\"\"") {
                    i += 3;
                } else if bytes[i..].starts_with(b"\"\"\"") {
                    at = At::Code;
                    i += 2;
                }
            }
        }
        i += 1;
    }
    Ok(())
}

/// Checks every limit that the document alone decides.
fn check_document(document: &ExecutableDocument, limits: &Limits) -> ServerResult<()> {
    check_aliases_and_directives(document, limits)?;
    let mut walk = Walk {
        document,
        limits,
        done: HashMap::new(),
        open: HashSet::new(),
    };
    let mut shape = Shape::default();
    for (_, operation) in document.operations.iter() {
        shape.add(walk.selection_set(&operation.node.selection_set, Context::API, 0)?);
    }
    if shape.depth > limits.max_depth {
        return Err(refusal(format!(
            "query is too deep: depth {} exceeds the depth limit of {}",
            shape.depth, limits.max_depth
        )));
    }
    if shape.fields > limits.max_complexity {
        return Err(refusal(format!(
            "query is too large: it selects {} fields once fragments are expanded, over the \
             complexity limit of {}",
            shape.fields, limits.max_complexity
        )));
    }
    if shape.introspection && !limits.introspection {
        return Err(refusal(
            "introspection (`__schema`, `__type`) is disabled on this server".to_owned(),
        ));
    }
    Ok(())
}

/// Aliases (per document) and directives (per selection), counted as written.
fn check_aliases_and_directives(
    document: &ExecutableDocument,
    limits: &Limits,
) -> ServerResult<()> {
    fn visit(set: &SelectionSet, limits: &Limits, aliases: &mut usize) -> ServerResult<()> {
        for item in &set.items {
            let directives = item.node.directives().len();
            if directives > limits.max_directives {
                let on = match &item.node {
                    Selection::Field(f) => format!("field `{}`", f.node.name.node),
                    Selection::FragmentSpread(s) => {
                        format!("spread of `{}`", s.node.fragment_name.node)
                    }
                    Selection::InlineFragment(_) => "an inline fragment".to_owned(),
                };
                return Err(refusal(format!(
                    "too many directives on {on}: {directives} exceeds the directive limit of {}",
                    limits.max_directives
                )));
            }
            match &item.node {
                Selection::Field(f) => {
                    if f.node.alias.is_some() {
                        *aliases += 1;
                    }
                    visit(&f.node.selection_set.node, limits, aliases)?;
                }
                Selection::InlineFragment(i) => visit(&i.node.selection_set.node, limits, aliases)?,
                Selection::FragmentSpread(_) => {}
            }
        }
        Ok(())
    }
    let mut aliases = 0;
    let sets = document
        .operations
        .iter()
        .map(|(_, o)| &o.node.selection_set)
        .chain(document.fragments.values().map(|f| &f.node.selection_set));
    for set in sets {
        visit(&set.node, limits, &mut aliases)?;
    }
    if aliases > limits.max_aliases {
        return Err(refusal(format!(
            "too many aliases: {aliases} exceeds the alias limit of {}",
            limits.max_aliases
        )));
    }
    Ok(())
}

/// Where a selection set sits: in the API, or inside introspection (and if so, whether
/// a type's `fields`/`inputFields` were already selected above it).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct Context {
    introspection: bool,
    below_fields: bool,
}

impl Context {
    const API: Context = Context {
        introspection: false,
        below_fields: false,
    };
}

/// The measurements of a selection set with its fragments expanded.
#[derive(Clone, Copy, Default)]
struct Shape {
    /// Deepest field nesting; an introspection root field counts as one.
    depth: usize,
    /// Deepest selection-set nesting, counted as async-graphql's recursive-depth check does.
    nesting: usize,
    /// Fields selected (saturating).
    fields: usize,
    /// Whether `__schema` or `__type` is selected.
    introspection: bool,
}

impl Shape {
    /// Adds `other` as a sibling.
    fn add(&mut self, other: Shape) {
        self.depth = self.depth.max(other.depth);
        self.nesting = self.nesting.max(other.nesting);
        self.fields = self.fields.saturating_add(other.fields);
        self.introspection |= other.introspection;
    }
}

/// Measures selection sets, each fragment once per context.
struct Walk<'a> {
    document: &'a ExecutableDocument,
    limits: &'a Limits,
    done: HashMap<(&'a Name, Context), Shape>,
    open: HashSet<&'a Name>,
}

impl<'a> Walk<'a> {
    /// The shape of `set`, entered at nesting `level` (the operation's own set is 0).
    fn selection_set(
        &mut self,
        set: &'a Positioned<SelectionSet>,
        cx: Context,
        level: usize,
    ) -> ServerResult<Shape> {
        if level > self.limits.max_recursive_depth {
            return Err(self.too_deep());
        }
        let mut shape = Shape::default();
        for item in &set.node.items {
            match &item.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    let name = field.name.node.as_str();
                    let opens_introspection =
                        !cx.introspection && matches!(name, "__schema" | "__type");
                    let inner = if cx.introspection || opens_introspection {
                        let lists_fields = matches!(name, "fields" | "inputFields");
                        if cx.below_fields && lists_fields {
                            return Err(refusal(
                                "introspection may select a type's `fields` or `inputFields` \
                                 only once along a path"
                                    .to_owned(),
                            ));
                        }
                        Context {
                            introspection: true,
                            below_fields: cx.below_fields || lists_fields,
                        }
                    } else {
                        cx
                    };
                    let mut own = Shape {
                        depth: usize::from(!cx.introspection),
                        nesting: 0,
                        fields: 1,
                        introspection: opens_introspection,
                    };
                    if !field.selection_set.node.items.is_empty() {
                        let sub = self.selection_set(&field.selection_set, inner, level + 1)?;
                        if !inner.introspection {
                            own.depth += sub.depth;
                        }
                        own.nesting = sub.nesting + 1;
                        own.fields = own.fields.saturating_add(sub.fields);
                        own.introspection |= sub.introspection;
                    }
                    shape.add(own);
                }
                Selection::FragmentSpread(spread) => {
                    let name = &spread.node.fragment_name.node;
                    // An unknown fragment is reported by validation.
                    if let Some(fragment) = self.document.fragments.get(name) {
                        let sub = self.fragment(name, &fragment.node.selection_set, cx, level)?;
                        shape.add(Shape {
                            nesting: sub.nesting + 1,
                            ..sub
                        });
                    }
                }
                Selection::InlineFragment(inline) => {
                    let sub = self.selection_set(&inline.node.selection_set, cx, level + 1)?;
                    shape.add(Shape {
                        nesting: sub.nesting + 1,
                        ..sub
                    });
                }
            }
        }
        Ok(shape)
    }

    fn too_deep(&self) -> ServerError {
        refusal(format!(
            "query is nested too deeply: selection sets (fragments included) nest deeper than \
             the recursive depth limit of {}",
            self.limits.max_recursive_depth
        ))
    }

    /// The shape of fragment `name` spread in a set entered at nesting `level`.
    fn fragment(
        &mut self,
        name: &'a Name,
        set: &'a Positioned<SelectionSet>,
        cx: Context,
        level: usize,
    ) -> ServerResult<Shape> {
        if let Some(shape) = self.done.get(&(name, cx)) {
            // Measured where it was first spread: only the nesting depends on the place.
            if level + 1 + shape.nesting > self.limits.max_recursive_depth {
                return Err(self.too_deep());
            }
            return Ok(*shape);
        }
        if !self.open.insert(name) {
            return Err(refusal(format!("fragment `{name}` spreads itself")));
        }
        let shape = self.selection_set(set, cx, level + 1);
        self.open.remove(name);
        let shape = shape?;
        self.done.insert((name, cx), shape);
        Ok(shape)
    }
}

#[cfg(test)]
mod tests {
    use super::{check_nesting, page_cost, MAX_NESTING};

    #[test]
    fn nesting_counts_brackets_outside_strings_and_comments() {
        let nested = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(check_nesting(&nested(MAX_NESTING)).is_ok());
        assert!(check_nesting(&nested(MAX_NESTING + 1)).is_err());
        let hidden = "{".repeat(MAX_NESTING + 1);
        for q in [
            format!("{{ a(s: \"{hidden}\") }}"),
            format!("{{ a(s: \"\\\"{hidden}\") }}"),
            format!("{{ a(s: \"\"\"x\\\"\"\"{hidden}\"\"\") }}"),
            format!("{{ a # {hidden}\n }}"),
        ] {
            assert!(check_nesting(&q).is_ok(), "{q}");
        }
        assert!(check_nesting(&format!("\"x\"{hidden}")).is_err());
        assert!(check_nesting("}}}]])").is_ok());
    }

    #[test]
    fn page_cost_clamps_first_and_never_overflows() {
        assert_eq!(page_cost(-5, 10), 1);
        assert_eq!(page_cost(0, 10), 1);
        assert_eq!(page_cost(3, 10), 31);
        assert_eq!(page_cost(1_000_000, 10), 1_001);
        assert_eq!(page_cost(100, usize::MAX), u32::MAX as usize);
    }
}

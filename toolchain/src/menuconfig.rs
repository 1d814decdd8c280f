//! `ukport menuconfig [RECIPE]`: a terminal UI over the option schema (docs/config.md).
//!
//! Options are shown by menu (the first name segment: a micro-library or a platform)
//! and, inside a menu made of several crates, by the options.toml that declares them;
//! each with its value and where the value comes from. The pane beside the list gives
//! the selected option's help, type, default, range or choices, dependencies, selects,
//! platforms and declaration. A change is resolved with every layer before it is
//! taken, so an invalid value or a contradiction is refused with the resolver's own
//! message. Saving writes the recipe's `[config]` table (the rest of the file kept) or
//! a settings file, which `ukport build --config FILE` and `uk-cc --uk-config=FILE`
//! read.
//!
//! [`App`] holds the state and draws into any ratatui backend, so tests drive it with
//! key events on a `TestBackend`; [`run`] puts it on the terminal.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::layout::{Constraint, Direction, Layout};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, List, ListItem, ListState, Paragraph, Wrap};
use ratatui::Frame;
use uk_kconfig::{Layer, OptionType, Origin, Resolved, Schema, Value};

/// Where the settings are saved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A recipe's `[config]` table.
    Recipe(PathBuf),
    /// A settings file (the whole document is settings).
    File(PathBuf),
}

impl Target {
    pub fn path(&self) -> &Path {
        match self {
            Target::Recipe(p) | Target::File(p) => p,
        }
    }

    fn label(&self) -> String {
        match self {
            Target::Recipe(p) => format!("{} [config]", p.display()),
            Target::File(p) => p.display().to_string(),
        }
    }

    /// The settings it holds now (none for a file that does not exist yet).
    pub fn read(&self) -> Result<BTreeMap<String, toml::Value>> {
        let p = self.path();
        if !p.exists() {
            return Ok(BTreeMap::new());
        }
        let text =
            std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?;
        let table = match self {
            Target::Recipe(_) => Some("config"),
            Target::File(_) => None,
        };
        let layer =
            Layer::from_toml(&p.display().to_string(), &text, table).map_err(|e| anyhow!("{e}"))?;
        Ok(layer.values.into_iter().map(|(k, v, _)| (k, v)).collect())
    }

    /// Writes `entries`: a recipe's `[config]` is replaced in place, keeping the rest
    /// of the file as it was; a settings file is written whole.
    pub fn write(&self, entries: &BTreeMap<String, toml::Value>) -> Result<()> {
        let p = self.path();
        let text = match self {
            Target::File(_) => {
                let mut t = String::from(
                    "# ukit kernel option settings (ukport menuconfig; read by `ukport build \
                     --config FILE` and `uk-cc --uk-config=FILE`)\n",
                );
                for (k, v) in entries {
                    t.push_str(&format!("{} = {v}\n", toml::Value::String(k.clone())));
                }
                t
            }
            Target::Recipe(_) => {
                let old = std::fs::read_to_string(p)
                    .with_context(|| format!("cannot read {}", p.display()))?;
                let mut doc: toml_edit::DocumentMut = old
                    .parse()
                    .with_context(|| format!("{} is not valid TOML", p.display()))?;
                if entries.is_empty() {
                    doc.remove("config");
                } else {
                    let mut table = toml_edit::Table::new();
                    if let Some(old) = doc.get("config").and_then(|i| i.as_table()) {
                        *table.decor_mut() = old.decor().clone();
                    }
                    for (k, v) in entries {
                        let value: toml_edit::Value = v
                            .to_string()
                            .parse()
                            .map_err(|e| anyhow!("{k} = {v}: {e}"))?;
                        table.insert(k, toml_edit::Item::Value(value));
                    }
                    doc.insert("config", toml_edit::Item::Table(table));
                }
                doc.to_string()
            }
        };
        let tmp = p.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&tmp, text).with_context(|| format!("cannot write {}", tmp.display()))?;
        std::fs::rename(&tmp, p).with_context(|| format!("cannot write {}", p.display()))?;
        Ok(())
    }
}

/// A line of the option list.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Row {
    Menu(String),
    Section(String),
    Opt(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Mode {
    Browse,
    /// Typing a new value for the option.
    Edit(String),
    /// Typing a search.
    Search(String),
    /// `q` with unsaved changes: a second `q` quits.
    ConfirmQuit,
}

/// The menuconfig state.
pub struct App {
    schema: Schema,
    /// Read-only layers under the target (the program's needs, the recipe's `[config]`
    /// when saving elsewhere).
    below: Vec<Layer>,
    target: Target,
    /// What will be saved.
    entries: BTreeMap<String, toml::Value>,
    /// What the target held when read or last saved.
    saved: BTreeMap<String, toml::Value>,
    resolved: Resolved,
    rows: Vec<Row>,
    cursor: usize,
    mode: Mode,
    status: Option<(String, bool)>,
    quit: bool,
}

/// The origin shown for settings changed in this session and not saved yet.
const UNSAVED: &str = "menuconfig (unsaved)";

impl App {
    /// A session editing `target` over the layers `below`.
    pub fn new(schema: Schema, below: Vec<Layer>, target: Target) -> Result<App> {
        let entries = target.read()?;
        let mut rows = Vec::new();
        for menu in schema.menus() {
            rows.push(Row::Menu(format!("[{}] {}", menu.name, menu.title)));
            for s in &menu.sections {
                if menu.sections.len() > 1 {
                    rows.push(Row::Section(format!(
                        "{} ({})",
                        s.title.clone().unwrap_or_default(),
                        s.file.display()
                    )));
                }
                rows.extend(s.options.iter().cloned().map(Row::Opt));
            }
        }
        let resolved = resolve(&schema, &below, &target, &entries, &entries)
            .map_err(|e| anyhow!("the configuration does not resolve as it is:\n{e}"))?;
        let cursor = rows
            .iter()
            .position(|r| matches!(r, Row::Opt(_)))
            .ok_or_else(|| anyhow!("the schema has no options"))?;
        Ok(App {
            schema,
            below,
            target,
            saved: entries.clone(),
            entries,
            resolved,
            rows,
            cursor,
            mode: Mode::Browse,
            status: None,
            quit: false,
        })
    }

    /// True once the user has quit.
    pub fn quit(&self) -> bool {
        self.quit
    }

    /// Unsaved changes.
    pub fn dirty(&self) -> bool {
        self.entries != self.saved
    }

    /// The option under the cursor.
    pub fn selected(&self) -> &str {
        match &self.rows[self.cursor] {
            Row::Opt(n) => n,
            _ => unreachable!("the cursor only rests on options"),
        }
    }

    /// The current configuration.
    pub fn resolved(&self) -> &Resolved {
        &self.resolved
    }

    /// Takes a setting (or, with `None`, removes it) if the configuration still
    /// resolves; otherwise says why not and keeps the old one.
    fn try_set(&mut self, name: &str, value: Option<toml::Value>) -> bool {
        let mut next = self.entries.clone();
        match value {
            Some(v) => next.insert(name.to_string(), v),
            None => next.remove(name),
        };
        match resolve(&self.schema, &self.below, &self.target, &next, &self.saved) {
            Ok(r) => {
                self.entries = next;
                self.resolved = r;
                self.status = None;
                true
            }
            Err(e) => {
                // The resolver's message without the `where:` prefix of the setting.
                let msg = e
                    .lines()
                    .map(|l| l.split_once(": ").map_or(l, |(_, m)| m).to_string())
                    .collect::<Vec<_>>()
                    .join("; ");
                self.status = Some((format!("refused: {msg}"), true));
                false
            }
        }
    }

    fn move_cursor(&mut self, down: bool, steps: usize) {
        for _ in 0..steps {
            let mut i = self.cursor;
            loop {
                i = if down {
                    if i + 1 >= self.rows.len() {
                        break;
                    }
                    i + 1
                } else {
                    if i == 0 {
                        break;
                    }
                    i - 1
                };
                if matches!(self.rows[i], Row::Opt(_)) {
                    self.cursor = i;
                    break;
                }
            }
        }
    }

    /// The next value of a bool (flipped) or choice (the next choice, wrapping).
    fn next_value(&self, name: &str) -> Option<toml::Value> {
        let def = self.schema.get(name)?;
        let cur = self.resolved.get(name)?;
        match (def.ty, cur) {
            (OptionType::Bool, Value::Bool(b)) => Some(toml::Value::Boolean(!b)),
            (OptionType::Choice, Value::Str(s)) => {
                let i = def.choices.iter().position(|c| c == s).unwrap_or(0);
                Some(toml::Value::String(
                    def.choices[(i + 1) % def.choices.len()].clone(),
                ))
            }
            _ => None,
        }
    }

    /// Handles one key.
    pub fn handle(&mut self, key: KeyEvent) {
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            self.quit = true;
            return;
        }
        match std::mem::replace(&mut self.mode, Mode::Browse) {
            Mode::Edit(mut buf) => match key.code {
                KeyCode::Enter => {
                    let name = self.selected().to_string();
                    let v = typed(&self.schema, &name, buf.trim());
                    if !self.try_set(&name, Some(v)) {
                        self.mode = Mode::Edit(buf);
                    }
                }
                KeyCode::Esc => self.status = None,
                KeyCode::Backspace => {
                    buf.pop();
                    self.mode = Mode::Edit(buf);
                }
                KeyCode::Char(c) => {
                    buf.push(c);
                    self.mode = Mode::Edit(buf);
                }
                _ => self.mode = Mode::Edit(buf),
            },
            Mode::Search(mut buf) => match key.code {
                KeyCode::Enter => {
                    let found = (1..=self.rows.len())
                        .map(|k| (self.cursor + k) % self.rows.len())
                        .find(
                            |&i| matches!(&self.rows[i], Row::Opt(n) if n.contains(buf.as_str())),
                        );
                    match found {
                        Some(i) => {
                            self.cursor = i;
                            self.status = None;
                        }
                        None => self.status = Some((format!("no option matches `{buf}`"), true)),
                    }
                }
                KeyCode::Esc => self.status = None,
                KeyCode::Backspace => {
                    buf.pop();
                    self.mode = Mode::Search(buf);
                }
                KeyCode::Char(c) => {
                    buf.push(c);
                    self.mode = Mode::Search(buf);
                }
                _ => self.mode = Mode::Search(buf),
            },
            Mode::ConfirmQuit if key.code == KeyCode::Char('q') => self.quit = true,
            Mode::ConfirmQuit | Mode::Browse => self.browse(key),
        }
    }

    fn browse(&mut self, key: KeyEvent) {
        let name = self.selected().to_string();
        match key.code {
            KeyCode::Down | KeyCode::Char('j') => self.move_cursor(true, 1),
            KeyCode::Up | KeyCode::Char('k') => self.move_cursor(false, 1),
            KeyCode::PageDown => self.move_cursor(true, 10),
            KeyCode::PageUp => self.move_cursor(false, 10),
            KeyCode::Char(' ') | KeyCode::Enter | KeyCode::Right | KeyCode::Left => {
                match self.next_value(&name) {
                    Some(v) => {
                        self.try_set(&name, Some(v));
                    }
                    None if matches!(key.code, KeyCode::Enter | KeyCode::Char(' ')) => {
                        let cur = self
                            .resolved
                            .get(&name)
                            .map(|v| match v {
                                Value::Str(s) => s.clone(),
                                v => v.to_string(),
                            })
                            .unwrap_or_default();
                        self.mode = Mode::Edit(cur);
                        self.status = None;
                    }
                    None => {}
                }
            }
            KeyCode::Char('d') if self.try_set(&name, None) => {
                self.status = Some((format!("{name}: back to its default"), false));
            }
            KeyCode::Char('/') => self.mode = Mode::Search(String::new()),
            KeyCode::Char('s') => match self.save() {
                Ok(p) => self.status = Some((format!("saved {}", p.display()), false)),
                Err(e) => self.status = Some((format!("cannot save: {e:#}"), true)),
            },
            KeyCode::Char('q') | KeyCode::Esc => {
                if self.dirty() && self.mode != Mode::ConfirmQuit {
                    self.mode = Mode::ConfirmQuit;
                    self.status = Some((
                        "unsaved changes: s saves, q again quits without saving".into(),
                        true,
                    ));
                } else {
                    self.quit = true;
                }
            }
            _ => {}
        }
    }

    /// Writes the settings to the target.
    pub fn save(&mut self) -> Result<PathBuf> {
        self.target.write(&self.entries)?;
        self.saved = self.entries.clone();
        self.resolved = resolve(
            &self.schema,
            &self.below,
            &self.target,
            &self.entries,
            &self.saved,
        )
        .map_err(|e| anyhow!(e))?;
        Ok(self.target.path().to_path_buf())
    }

    fn value_text(&self, name: &str) -> String {
        match self.resolved.get(name) {
            Some(Value::Str(s)) => s.clone(),
            Some(v) => v.to_string(),
            None => "?".into(),
        }
    }

    /// Draws the whole screen.
    pub fn draw(&self, f: &mut Frame) {
        let area = f.area();
        let outer = Layout::default()
            .direction(Direction::Vertical)
            .constraints([
                Constraint::Length(1),
                Constraint::Min(5),
                Constraint::Length(1),
            ])
            .split(area);
        let title = format!(
            "ukit menuconfig: {}{}",
            self.target.label(),
            if self.dirty() {
                "  (unsaved changes)"
            } else {
                ""
            }
        );
        f.render_widget(
            Paragraph::new(title).style(Style::default().add_modifier(Modifier::BOLD)),
            outer[0],
        );
        let body = Layout::default()
            .direction(Direction::Horizontal)
            .constraints([Constraint::Percentage(58), Constraint::Percentage(42)])
            .split(outer[1]);

        let width = self
            .schema
            .options()
            .iter()
            .map(|o| o.name.len())
            .max()
            .unwrap_or(10);
        let items: Vec<ListItem> = self
            .rows
            .iter()
            .map(|r| match r {
                Row::Menu(t) => ListItem::new(Line::from(Span::styled(
                    t.clone(),
                    Style::default().add_modifier(Modifier::BOLD),
                ))),
                Row::Section(t) => ListItem::new(format!("  # {t}")),
                Row::Opt(n) => {
                    let s = self.resolved.setting(n);
                    let def = self.schema.get(n);
                    let mark = match s.map(|s| &s.value) {
                        Some(Value::Bool(true)) => "[x]",
                        Some(Value::Bool(false)) => "[ ]",
                        _ => "   ",
                    };
                    let value = if def.is_some_and(|d| d.ty == OptionType::Bool) {
                        String::new()
                    } else {
                        self.value_text(n)
                    };
                    let origin = s.map(|s| s.origin.to_string()).unwrap_or_default();
                    let mut style = Style::default();
                    if matches!(s.map(|s| &s.origin), Some(Origin::Unmet { .. })) {
                        style = style.add_modifier(Modifier::DIM);
                    }
                    ListItem::new(Line::from(vec![Span::styled(
                        format!("  {mark} {n:<width$} {value:<8} {origin}"),
                        style,
                    )]))
                }
            })
            .collect();
        let mut state = ListState::default();
        state.select(Some(self.cursor));
        let list = List::new(items)
            .block(Block::default().borders(Borders::ALL).title(" options "))
            .highlight_style(Style::default().add_modifier(Modifier::REVERSED))
            .highlight_symbol(">");
        f.render_stateful_widget(list, body[0], &mut state);

        f.render_widget(
            Paragraph::new(self.details())
                .wrap(Wrap { trim: false })
                .block(Block::default().borders(Borders::ALL).title(" help ")),
            body[1],
        );

        let bottom = match (&self.mode, &self.status) {
            (Mode::Edit(b), Some((m, _))) => format!("{}: {b}_   {m}", self.selected()),
            (Mode::Edit(b), None) => {
                format!("{} = {b}_   (enter sets, esc cancels)", self.selected())
            }
            (Mode::Search(b), _) => format!("search: {b}_"),
            (_, Some((m, _))) => m.clone(),
            _ => {
                "up/down move  space/enter change  d default  / search  s save  q quit".to_string()
            }
        };
        let style = match &self.status {
            Some((_, true)) => Style::default().add_modifier(Modifier::BOLD),
            _ => Style::default(),
        };
        f.render_widget(Paragraph::new(bottom).style(style), outer[2]);
    }

    /// The help pane's text for the selected option.
    fn details(&self) -> Vec<Line<'static>> {
        let name = self.selected();
        let Some(def) = self.schema.get(name) else {
            return Vec::new();
        };
        let mut v: Vec<Line<'static>> = Vec::new();
        let mut push = |s: String| v.push(Line::from(s));
        push(match &def.prompt {
            Some(p) => format!("{name}: {p}"),
            None => name.to_string(),
        });
        push(format!("type {}, default {}", def.ty, show(&def.default)));
        if let Some(s) = self.resolved.setting(name) {
            push(format!("value {}, from {}", show(&s.value), s.origin));
        }
        if let Some((lo, hi)) = &def.range {
            push(format!("range {} to {}", show(lo), show(hi)));
        }
        if !def.choices.is_empty() {
            push(format!("choices: {}", def.choices.join(", ")));
        }
        let state = |n: &String| match self.resolved.get(n) {
            Some(Value::Bool(true)) => format!("{n} (on)"),
            _ => format!("{n} (off)"),
        };
        if !def.depends_on.is_empty() {
            push(format!(
                "depends on: {}",
                def.depends_on
                    .iter()
                    .map(state)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if !def.selects.is_empty() {
            push(format!("selects: {}", def.selects.join(", ")));
        }
        if !def.conflicts.is_empty() {
            push(format!("conflicts with: {}", def.conflicts.join(", ")));
        }
        let selected_by: Vec<&str> = self
            .schema
            .options()
            .iter()
            .filter(|o| o.selects.iter().any(|s| s == name))
            .map(|o| o.name.as_str())
            .collect();
        if !selected_by.is_empty() {
            push(format!("selected by: {}", selected_by.join(", ")));
        }
        if !def.platforms.is_empty() {
            push(format!("only on: {}", def.platforms.join(", ")));
        }
        if !def.ports.is_empty() {
            push(format!("links the ports: {}", def.ports.join(", ")));
        }
        if !def.symbols.is_empty() {
            push(format!(
                "turned on for programs that call: {}",
                def.symbols.join(", ")
            ));
        }
        push(format!("declared in {}", def.location()));
        push(String::new());
        push(def.help.clone());
        v
    }
}

fn show(v: &Value) -> String {
    match v {
        Value::Str(s) => format!("\"{s}\""),
        v => v.to_string(),
    }
}

/// Typed input for option `name`: a number for int options, text for the rest (sizes
/// and strings are checked by the resolver like any setting).
fn typed(schema: &Schema, name: &str, text: &str) -> toml::Value {
    match schema.get(name).map(|o| o.ty) {
        Some(OptionType::Int) => text
            .parse::<i64>()
            .map(toml::Value::Integer)
            .unwrap_or_else(|_| toml::Value::String(text.to_string())),
        _ => toml::Value::String(text.to_string()),
    }
}

/// Resolves `below`, then the target's settings: those as saved under the target's own
/// name, those changed since under [`UNSAVED`].
fn resolve(
    schema: &Schema,
    below: &[Layer],
    target: &Target,
    entries: &BTreeMap<String, toml::Value>,
    saved: &BTreeMap<String, toml::Value>,
) -> std::result::Result<Resolved, String> {
    let mut kept = Layer::new(target.label());
    let mut changed = Layer::new(UNSAVED);
    for (k, v) in entries {
        let layer = if saved.get(k) == Some(v) {
            &mut kept
        } else {
            &mut changed
        };
        layer.values.push((k.clone(), v.clone(), None));
    }
    let mut layers = below.to_vec();
    layers.push(kept);
    layers.push(changed);
    uk_kconfig::resolve(schema, &layers).map_err(|e| e.to_string())
}

/// Runs `app` on the terminal until the user quits.
pub fn run(mut app: App) -> Result<()> {
    use ratatui::crossterm::event::{self, Event, KeyEventKind};
    let mut terminal = ratatui::init();
    let result = (|| -> Result<()> {
        while !app.quit() {
            terminal.draw(|f| app.draw(f))?;
            if let Event::Key(k) = event::read()? {
                if k.kind == KeyEventKind::Press {
                    app.handle(k);
                }
            }
        }
        Ok(())
    })();
    ratatui::restore();
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;

    const SCHEMA: &str = r#"
[menu]
title = "Networking"
help = "TCP/IP."

[[option]]
name = "net.enable"
type = "bool"
prompt = "Networking"
help = "Links the network stack."
symbols = ["socket"]

[[option]]
name = "net.tcp_max"
type = "int"
default = 64
range = [1, 1024]
depends_on = ["net.enable"]
help = "Most TCP connections at once."

[[option]]
name = "net.dns"
type = "bool"
selects = ["net.enable"]
help = "A resolver."
"#;

    const UK: &str = r#"
[[option]]
name = "uk.log_level"
type = "choice"
choices = ["error", "warn", "debug"]
default = "warn"
help = "How much the kernel says."

[[option]]
name = "uk.heap"
type = "size"
default = "1M"
range = ["64K", "1G"]
platforms = ["linuxu"]
help = "Heap size."
"#;

    fn schema() -> Schema {
        Schema::from_files(&[
            (PathBuf::from("lib/net/options.toml"), SCHEMA.into()),
            (PathBuf::from("lib/config/options.toml"), UK.into()),
        ])
        .unwrap()
    }

    fn key(c: char) -> KeyEvent {
        KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
    }

    fn code(k: KeyCode) -> KeyEvent {
        KeyEvent::new(k, KeyModifiers::NONE)
    }

    fn typed_keys(app: &mut App, s: &str) {
        for c in s.chars() {
            app.handle(key(c));
        }
    }

    fn search(app: &mut App, s: &str) {
        app.handle(key('/'));
        typed_keys(app, s);
        app.handle(code(KeyCode::Enter));
    }

    fn screen(app: &App) -> String {
        let mut t = Terminal::new(TestBackend::new(200, 30)).unwrap();
        t.draw(|f| app.draw(f)).unwrap();
        let buf = t.backend().buffer().clone();
        let mut out = String::new();
        for y in 0..buf.area.height {
            for x in 0..buf.area.width {
                out.push_str(buf[(x, y)].symbol());
            }
            out.push('\n');
        }
        out
    }

    /// The line of the list that shows `name`.
    fn row(app: &App, name: &str) -> String {
        screen(app)
            .lines()
            .find(|l| {
                let Some(cell) = l.split('│').nth(1) else {
                    return false;
                };
                let t = cell.trim_start_matches(['>', ' ']);
                let t = t
                    .strip_prefix("[x] ")
                    .or_else(|| t.strip_prefix("[ ] "))
                    .unwrap_or(t);
                t.starts_with(&format!("{name} "))
            })
            .unwrap_or_else(|| panic!("{name} not on screen:\n{}", screen(app)))
            .to_string()
    }

    #[test]
    fn shows_menus_values_origins_and_help() {
        let t = tempfile::tempdir().unwrap();
        let mut need = Layer::new("the program calls socket (srv.c)");
        need.values
            .push(("net.enable".into(), toml::Value::Boolean(true), None));
        let app = App::new(schema(), vec![need], Target::File(t.path().join("k.toml"))).unwrap();
        let s = screen(&app);
        assert!(s.contains("[net] Networking"), "{s}");
        assert!(s.contains("[uk] uk"), "{s}");
        assert!(row(&app, "net.enable").contains("[x]"));
        assert!(row(&app, "net.enable").contains("the program calls socket (srv.c)"));
        assert!(
            row(&app, "net.tcp_max").contains("64") && row(&app, "net.tcp_max").contains("default")
        );
        // The help pane: the first option is selected.
        assert_eq!(app.selected(), "net.enable");
        assert!(s.contains("net.enable: Networking"), "{s}");
        assert!(s.contains("type bool, default false"), "{s}");
        assert!(s.contains("selected by: net.dns"), "{s}");
        assert!(
            s.contains("turned on for programs that call: socket"),
            "{s}"
        );
        assert!(s.contains("Links the network stack."), "{s}");
        assert!(s.contains("declared in lib/net/options.toml:"), "{s}");
    }

    /// Keys change values; invalid ones are refused with the resolver's message; the
    /// saved file is what `--config FILE` reads.
    #[test]
    fn edits_are_checked_and_saved_to_a_file() {
        let t = tempfile::tempdir().unwrap();
        let file = t.path().join("k.toml");
        let mut app = App::new(schema(), vec![], Target::File(file.clone())).unwrap();
        assert!(row(&app, "net.enable").contains("[ ]"));
        // A dependency that is off: the int is inactive and may not be set.
        search(&mut app, "tcp_max");
        assert_eq!(app.selected(), "net.tcp_max");
        assert!(screen(&app).contains("depends on: net.enable (off)"));
        app.handle(code(KeyCode::Enter));
        for _ in 0..2 {
            app.handle(code(KeyCode::Backspace));
        }
        typed_keys(&mut app, "128");
        app.handle(code(KeyCode::Enter));
        let s = screen(&app);
        assert!(s.contains("refused:") && s.contains("net.enable"), "{s}");
        app.handle(code(KeyCode::Esc));

        // Turn the library on, then the same value is taken.
        search(&mut app, "net.enable");
        app.handle(key(' '));
        assert!(row(&app, "net.enable").contains("[x]"));
        assert!(row(&app, "net.enable").contains(UNSAVED));
        search(&mut app, "tcp_max");
        app.handle(code(KeyCode::Enter));
        typed_keys(&mut app, "00"); // 6400: outside the range
        app.handle(code(KeyCode::Enter));
        assert!(
            screen(&app).contains("refused: option `net.tcp_max`"),
            "{}",
            screen(&app)
        );
        assert!(
            screen(&app).contains("outside its range [1, 1024]"),
            "{}",
            screen(&app)
        );
        app.handle(code(KeyCode::Backspace));
        app.handle(code(KeyCode::Backspace));
        typed_keys(&mut app, "8"); // 648
        app.handle(code(KeyCode::Enter));
        assert!(row(&app, "net.tcp_max").contains("648"), "{}", screen(&app));

        // A choice cycles; a size is typed; the platform note shows.
        search(&mut app, "log_level");
        app.handle(key(' '));
        assert!(row(&app, "uk.log_level").contains("debug"));
        search(&mut app, "heap");
        assert!(screen(&app).contains("only on: linuxu"));
        app.handle(code(KeyCode::Enter));
        for _ in 0..2 {
            app.handle(code(KeyCode::Backspace));
        }
        typed_keys(&mut app, "3X");
        app.handle(code(KeyCode::Enter));
        assert!(screen(&app).contains("refused:"), "{}", screen(&app));
        app.handle(code(KeyCode::Backspace));
        typed_keys(&mut app, "M");
        app.handle(code(KeyCode::Enter));
        assert!(row(&app, "uk.heap").contains("3M"));

        // Quitting with unsaved changes asks first.
        app.handle(key('q'));
        assert!(!app.quit());
        assert!(screen(&app).contains("unsaved changes: s saves"));
        app.handle(key('s'));
        assert!(!app.dirty());
        assert!(screen(&app).contains(&format!("saved {}", file.display())));
        let saved = std::fs::read_to_string(&file).unwrap();
        assert!(saved.contains("\"net.enable\" = true"), "{saved}");
        assert!(saved.contains("\"net.tcp_max\" = 648"), "{saved}");
        assert!(saved.contains("\"uk.log_level\" = \"debug\""), "{saved}");
        assert!(saved.contains("\"uk.heap\" = \"3M\""), "{saved}");
        // Read back as a settings file, the same configuration.
        let back = Layer::from_toml("k.toml", &saved, None).unwrap();
        let r = uk_kconfig::resolve(&schema(), &[back]).unwrap();
        assert_eq!(r.hash(), app.resolved().hash());
        app.handle(key('q'));
        assert!(app.quit());
    }

    /// A select cannot be undone by hand (the resolver's rule), `d` resets to the
    /// default, and a recipe's [config] is rewritten with the rest of the file kept.
    #[test]
    fn saves_into_a_recipe_config() {
        let t = tempfile::tempdir().unwrap();
        let recipe = t.path().join("app.toml");
        std::fs::write(
            &recipe,
            "# my app\nname = \"app\"\nversion = \"1\"\n\n[config]\n\"net.dns\" = true\n\n[run]\nmemory = \"64M\"\n",
        )
        .unwrap();
        let mut app = App::new(schema(), vec![], Target::Recipe(recipe.clone())).unwrap();
        assert!(
            row(&app, "net.dns").contains(&format!("{} [config]", recipe.display())),
            "{}",
            screen(&app)
        );
        assert!(row(&app, "net.enable").contains("selected by net.dns"));
        search(&mut app, "net.enable");
        app.handle(key(' '));
        let s = screen(&app);
        assert!(s.contains("refused:") && s.contains("net.dns"), "{s}");
        assert!(row(&app, "net.enable").contains("[x]"));
        search(&mut app, "net.dns");
        app.handle(key('d'));
        assert!(row(&app, "net.dns").contains("[ ]") && row(&app, "net.dns").contains("default"));
        search(&mut app, "log_level");
        app.handle(key(' '));
        app.handle(key('s'));
        let saved = std::fs::read_to_string(&recipe).unwrap();
        assert!(saved.starts_with("# my app\nname = \"app\""), "{saved}");
        assert!(saved.contains("[run]\nmemory = \"64M\""), "{saved}");
        assert!(!saved.contains("net.dns"), "{saved}");
        assert!(
            saved.contains("[config]\n\"uk.log_level\" = \"debug\"\n"),
            "{saved}"
        );
        assert_eq!(
            Target::Recipe(recipe.clone()).read().unwrap().len(),
            1,
            "{saved}"
        );
    }
}

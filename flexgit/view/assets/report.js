/* flexgit report and ui: the runs table, comparisons with code diffs, curves, a page per run.
 * Plain JavaScript, no library. Every value from the data is shown with textContent or as an
 * SVG text node: nothing a user typed is ever parsed as HTML. */
(function () {
  "use strict";

  var PAGE = 100;                 // table rows drawn at once: 10,000 runs stay quick
  var CONTEXT = 3;                // lines around each change in a code diff
  var DIFF_LIMIT = 4000;          // edit distance beyond which two files are shown as replaced
  var COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                "#bcbd22", "#17becf"];
  var SVG = "http://www.w3.org/2000/svg";
  var ALWAYS = {name: true, id: true};

  var dataNode = document.getElementById("flexgit-data");
  var live = dataNode.getAttribute("data-live") === "1";
  var D = null;                   // the document
  var runs = [];                  // {i, id, name, cells, det}
  var byId = {};
  var constant = {};              // column -> true when every run has the same value
  var state = {sort: null, desc: false, filter: "", page: 0, hidden: null, showConstant: false,
               chooser: false, selected: {}, metrics: null, xTime: false, sx: null, sy: null,
               logX: false, logY: false, allKeys: false};
  var snapshotFiles = {};

  // -- building the page without HTML parsing --------------------------------------------------

  function el(tag, props, children) {
    var node = document.createElement(tag);
    if (props) {
      Object.keys(props).forEach(function (key) {
        var value = props[key];
        if (value === undefined || value === null || value === false) { return; }
        if (key === "text") { node.textContent = String(value); }
        else if (key === "onclick" || key === "onchange" || key === "oninput") { node[key] = value; }
        else if (key === "checked" || key === "value" || key === "disabled" || key === "selected") { node[key] = value; }
        else { node.setAttribute(key, String(value)); }
      });
    }
    (children || []).forEach(function (child) {
      if (child !== null && child !== undefined) {
        node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
      }
    });
    return node;
  }

  function svg(tag, attrs, text) {
    var node = document.createElementNS(SVG, tag);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, String(attrs[key])); });
    if (text !== undefined) { node.textContent = String(text); }
    return node;
  }

  function link(hash, text, props) {
    var a = el("a", Object.assign({href: hash, text: text}, props || {}));
    return a;
  }

  // -- values ------------------------------------------------------------------------------------

  // A float the data marks ({"f": ...}: nan, inf, -inf, or one with an integer value such as "1.0",
  // which JSON would make an integer) as a number; `identity` keeps the mark (see compareView).
  function decode(value) {
    if (value && typeof value === "object" && !Array.isArray(value) && typeof value.f === "string") {
      return value.f === "nan" ? NaN : value.f === "inf" ? Infinity : value.f === "-inf" ? -Infinity : Number(value.f);
    }
    if (Array.isArray(value)) { return value.map(decode); }
    return value;
  }

  function decodeAll(object) {
    if (!object || typeof object !== "object") { return object; }
    var found = {};
    Object.keys(object).forEach(function (key) { found[key] = decode(object[key]); });
    return found;
  }

  function isNumber(value) { return typeof value === "number"; }

  function show(value) {
    if (value === null || value === undefined) { return ""; }
    if (Array.isArray(value)) { return value.map(show).join(", "); }
    if (typeof value === "number") {
      if (isNaN(value)) { return "nan"; }
      if (!isFinite(value)) { return value > 0 ? "inf" : "-inf"; }
      if (Number.isInteger(value)) { return String(value); }
      return String(Number(value.toPrecision(6)));
    }
    if (typeof value === "boolean") { return value ? "true" : "false"; }
    return String(value);
  }

  function key(value) { return JSON.stringify(value === undefined ? null : value); }

  function compare(a, b) {
    var missingA = a === null || a === undefined, missingB = b === null || b === undefined;
    if (missingA || missingB) { return missingA === missingB ? 0 : (missingA ? 1 : -1); }
    if (isNumber(a) && isNumber(b)) {
      if (isNaN(a) || isNaN(b)) { return isNaN(a) === isNaN(b) ? 0 : (isNaN(a) ? 1 : -1); }
      return a - b;
    }
    if (isNumber(a) !== isNumber(b)) { return isNumber(a) ? -1 : 1; }
    return show(a).localeCompare(show(b));
  }

  function short(column) {
    return column.indexOf("params.") === 0 ? column.slice(7) : (column.indexOf("metrics.") === 0 ? column.slice(8) : column);
  }

  // -- the document ------------------------------------------------------------------------------

  function load(document_) {
    D = document_;
    var columns = D.columns;
    var index = {};
    columns.forEach(function (column, i) { index[column] = i; });
    D.index = index;
    runs = D.rows.map(function (cells, i) {
      cells = cells.map(decode);
      var det = D.details[i];
      if (det) { det.rawMeta = det.meta; det.meta = decodeAll(det.meta); }
      return {i: i, id: String(cells[index.id]), name: String(cells[index.name]), cells: cells, raw: D.rows[i],
              det: det, live: !!(det && det.live)};
    });
    byId = {};
    runs.forEach(function (run) { byId[run.id] = run; });
    constant = {};
    if (runs.length > 1) {
      columns.forEach(function (column, c) {
        if (ALWAYS[column]) { return; }
        var first = key(runs[0].cells[c]);
        constant[column] = runs.every(function (run) { return key(run.cells[c]) === first; });
      });
    }
    if (state.hidden === null) { state.hidden = {}; }  // columns the same everywhere: see showConstant
    snapshotFiles = {};
    Object.keys(state.selected).forEach(function (id) { if (!byId[id]) { delete state.selected[id]; } });
  }

  function value(run, column) {
    var c = D.index[column];
    return c === undefined ? undefined : run.cells[c];
  }

  function visibleColumns() {
    return D.columns.filter(function (column) {
      if (ALWAYS[column]) { return true; }
      if (constant[column] && !state.showConstant) { return false; }
      return !state.hidden[column];
    });
  }

  // -- filtering: words, and KEY<op>VALUE terms --------------------------------------------------

  var TERM = /^([^<>=!~]+?)(>=|<=|!=|=|>|<|~)(.*)$/;

  function resolve(name) {
    if (D.index[name] !== undefined) { return name; }
    var found = D.columns.filter(function (column) {
      return column.slice(-(name.length + 1)) === "." + name;
    });
    return found.length === 1 ? found[0] : null;
  }

  function termTest(text) {
    var match = TERM.exec(text);
    var column = match ? resolve(match[1]) : null;
    if (!column) {
      var needle = text.toLowerCase();
      return function (run) {
        return run.cells.some(function (cell) { return show(cell).toLowerCase().indexOf(needle) >= 0; });
      };
    }
    var op = match[2], wanted = match[3], number = wanted.trim() !== "" && !isNaN(Number(wanted)) ? Number(wanted) : null;
    return function (run) {
      var have = value(run, column);
      if (have === null || have === undefined) { return op === "!="; }
      if (op === "~") { return show(have).toLowerCase().indexOf(wanted.toLowerCase()) >= 0; }
      var order = number !== null && isNumber(have) ? have - number : show(have).localeCompare(wanted);
      if (op === "=") { return number !== null && isNumber(have) ? have === number : show(have) === wanted; }
      if (op === "!=") { return number !== null && isNumber(have) ? have !== number : show(have) !== wanted; }
      return op === ">" ? order > 0 : op === "<" ? order < 0 : op === ">=" ? order >= 0 : order <= 0;
    };
  }

  function shownRuns() {
    var tests = state.filter.trim().split(/\s+/).filter(Boolean).map(termTest);
    var found = runs.filter(function (run) { return tests.every(function (test) { return test(run); }); });
    if (state.sort !== null && D.index[state.sort] !== undefined) {
      var c = D.index[state.sort], sign = state.desc ? -1 : 1;
      found.sort(function (a, b) {
        var missing = (a.cells[c] === null || a.cells[c] === undefined) - (b.cells[c] === null || b.cells[c] === undefined);
        return missing || sign * compare(a.cells[c], b.cells[c]) || a.i - b.i;
      });
    }
    return found;
  }

  // -- views -------------------------------------------------------------------------------------

  function selectedIds() { return Object.keys(state.selected).filter(function (id) { return byId[id]; }); }

  function header(current) {
    var count = selectedIds().length;
    var nav = el("nav", null, [
      link("#/", "Runs", {"class": current === "runs" ? "current" : null}),
      link("#/compare/" + selectedIds().join(","), "Compare (" + count + ")",
           {"class": current === "compare" ? "current" : null, id: "nav-compare"}),
      link("#/curves/" + selectedIds().join(","), "Curves", {"class": current === "curves" ? "current" : null}),
      link("#/scatter", "Metric vs param", {"class": current === "scatter" ? "current" : null})
    ]);
    var info = (live ? "live · " : "") + "branch " + D.branch + " · " + runs.length + " runs · " +
      (live ? "updated " + new Date().toLocaleTimeString() : "written " + D.generated);
    return el("header", null, [el("h1", {text: D.title}), nav, el("span", {"class": "info", id: "info", text: info})]);
  }

  function tableView(main) {
    var shown = shownRuns();
    var columns = visibleColumns();
    var pages = Math.max(1, Math.ceil(shown.length / PAGE));
    state.page = Math.min(state.page, pages - 1);
    var filter = el("input", {type: "search", id: "filter", value: state.filter, placeholder:
      "filter: words, or key>value, key=value, key~text (e.g. acc>0.9 lr=0.01)", "aria-label": "filter"});
    filter.oninput = function () {
      state.filter = filter.value; state.page = 0;
      var at = filter.selectionStart;
      render();
      var again = document.getElementById("filter");
      again.focus(); again.setSelectionRange(at, at);
    };
    var ids = selectedIds();
    main.appendChild(el("div", {"class": "toolbar"}, [
      filter,
      el("button", {id: "choose-columns", text: "Columns…", onclick: function () { state.chooser = !state.chooser; render(); }}),
      el("span", {"class": "muted", id: "count", text: shown.length + " of " + runs.length + " runs"}),
      el("button", {id: "compare", text: "Compare selected (" + ids.length + ")", disabled: ids.length < 2,
                    onclick: function () { location.hash = "#/compare/" + selectedIds().join(","); }}),
      el("button", {id: "curves", text: "Curves of selected", disabled: ids.length < 1,
                    onclick: function () { location.hash = "#/curves/" + selectedIds().join(","); }}),
      el("button", {text: "Clear selection", disabled: ids.length < 1,
                    onclick: function () { state.selected = {}; render(); }})
    ]));
    if (state.chooser) { main.appendChild(chooser()); }
    var head = el("tr", null, [el("th", {text: ""})].concat(columns.map(function (column) {
      var th = el("th", {"data-col": column, text: short(column), title: column,
                         "aria-sort": state.sort === column ? (state.desc ? "descending" : "ascending") : null});
      th.onclick = function () {
        if (state.sort === column) { state.desc = !state.desc; } else { state.sort = column; state.desc = false; }
        render();
      };
      return th;
    })));
    var body = el("tbody");
    shown.slice(state.page * PAGE, (state.page + 1) * PAGE).forEach(function (run) {
      var box = el("input", {type: "checkbox", checked: !!state.selected[run.id], "aria-label": "select " + run.name});
      box.onchange = function () {
        if (box.checked) { state.selected[run.id] = true; } else { delete state.selected[run.id]; }
        render();
      };
      var cells = [el("td", null, [box])].concat(columns.map(function (column) {
        var have = value(run, column);
        if (column === "name") { return el("td", null, [link("#/run/" + run.id, run.name)]); }
        return el("td", {"class": isNumber(have) ? "num" : (column === "message" ? "message" : null),
                         title: column === "message" ? show(have) : null, text: show(have)});
      }));
      body.appendChild(el("tr", {"data-id": run.id, "class": state.selected[run.id] ? "selected" : run.live ? "live" : null},
                          cells));
    });
    main.appendChild(el("div", {"class": "scroll"}, [el("table", {"class": "runs", id: "runs"}, [el("thead", null, [head]), body])]));
    if (pages > 1) {
      main.appendChild(el("div", {"class": "pager"}, [
        el("button", {text: "‹ previous", disabled: state.page === 0, onclick: function () { state.page--; render(); }}),
        el("span", {"class": "muted", text: "rows " + (state.page * PAGE + 1) + "–" +
                    Math.min(shown.length, (state.page + 1) * PAGE) + " of " + shown.length}),
        el("button", {text: "next ›", disabled: state.page >= pages - 1, onclick: function () { state.page++; render(); }})
      ]));
    }
    var hiddenConstant = D.columns.filter(function (column) { return constant[column]; }).length;
    if (hiddenConstant && !state.showConstant) {
      main.appendChild(el("p", {"class": "muted", text: (hiddenConstant === 1 ? "1 column is" : hiddenConstant + " columns are") +
                                " the same in every run and hidden; “Columns…” shows " + (hiddenConstant === 1 ? "it." : "them.")}));
    }
  }

  function chooser() {
    var box = el("div", {"class": "columns", id: "column-chooser"});
    var all = el("input", {type: "checkbox", checked: state.showConstant, id: "show-constant"});
    all.onchange = function () { state.showConstant = all.checked; render(); };
    box.appendChild(el("label", null, [all, " show columns that are the same in every run"]));
    D.columns.forEach(function (column) {
      if (ALWAYS[column]) { return; }
      var check = el("input", {type: "checkbox", checked: !state.hidden[column] && (!constant[column] || state.showConstant),
                               "data-col": column});
      check.onchange = function () {
        if (check.checked) { delete state.hidden[column]; } else { state.hidden[column] = true; }
        if (check.checked && constant[column]) { state.showConstant = true; }
        render();
      };
      box.appendChild(el("label", {"class": constant[column] ? "constant" : null, title: column}, [check, " " + column]));
    });
    return box;
  }

  function size(bytes) {
    var units = ["bytes", "KiB", "MiB", "GiB", "TiB"], at = 0, value = bytes;
    while (value >= 1024 && at < units.length - 1) { value /= 1024; at++; }
    return at ? value.toFixed(value < 100 ? 1 : 0) + " " + units[at] : bytes.toLocaleString() + " bytes";
  }

  function kvTable(pairs, id) {
    if (!pairs.length) { return el("p", {"class": "muted", text: "none"}); }
    return el("table", {"class": "kv", id: id}, pairs.map(function (pair) {
      return el("tr", null, [el("th", {text: pair[0]}), el("td", {"class": isNumber(pair[1]) ? "num" : null, text: show(pair[1])})]);
    }));
  }

  function runView(main, id) {
    var run = byId[id];
    if (!run) { main.appendChild(el("p", {"class": "problem", text: "No run with id " + id + " in this report."})); return; }
    var det = run.det || {};
    main.appendChild(el("h2", {id: "run-name", text: run.name}));
    var facts = ["id", "date", "status", "group", "tags"].filter(function (column) {
      var have = value(run, column); return have !== undefined && have !== null && have !== "";
    }).map(function (column) { return el("span", {"class": "pill", text: column + " " + show(value(run, column))}); });
    main.appendChild(el("p", null, facts));
    var message = value(run, "message");
    if (message) { main.appendChild(el("p", {id: "run-message", style: "white-space: pre-wrap", text: message})); }
    var params = [], metrics = [];
    D.columns.forEach(function (column, c) {
      var have = run.cells[c];
      if (have === null || have === undefined) { return; }
      if (column.indexOf("params.") === 0) { params.push([column.slice(7), have]); }
      if (column.indexOf("metrics.") === 0) { metrics.push([column.slice(8), have]); }
    });
    main.appendChild(el("h3", {text: "Metrics"}));
    main.appendChild(kvTable(metrics, "run-metrics"));
    main.appendChild(el("h3", {text: "Params"}));
    main.appendChild(kvTable(params, "run-params"));
    var logged = splitKeys([run], curveKeys([run]));
    if (logged.stepped.length) {
      main.appendChild(el("h3", {text: "Curves"}));
      main.appendChild(curveCharts([run], logged.stepped, false));
    }
    overTime(main, [run], logged.timed);
    if (run.live) {  // from the live state (flexgit ui): nothing is stored yet
      main.appendChild(el("p", {"class": "muted", id: "run-live", text: "Not recorded yet (" + show(value(run, "status")) +
        "): its outputs, environment, log and code come with its record; its curves grow as it logs."}));
      return;
    }
    if (det.notes && det.notes.length) {
      main.appendChild(el("h3", {text: "Notes"}));
      main.appendChild(kvTable(det.notes.map(function (note) { return [note[0].slice(0, 19), note[1]]; }), "run-notes"));
    }
    var meta = det.meta || {};
    main.appendChild(el("h3", {text: "Outputs, artifacts and checkpoints"}));
    if (!(det.kept || []).length) {
      main.appendChild(el("p", {"class": "muted", id: "run-outputs", text: run.live ? "Kept when the run is recorded." :
        "None: this run keeps no files (settings' outputs, --output, flexgit.checkpoint)."}));
    } else {
      main.appendChild(el("table", {"class": "kv files", id: "run-outputs"}, det.kept.map(function (file) {
        return el("tr", {"data-kind": file[0]}, [el("th", {text: file[0].replace(/s$/, "")}), el("td", {text: file[1]}),
          el("td", {"class": "num", text: size(file[2])}), el("td", {"class": "muted", text: file[3] ? "git-lfs" : ""})]);
      })));
      main.appendChild(el("p", {"class": "muted", text: "flexgit get " + run.name + " PATH writes one back."}));
    }
    main.appendChild(el("h3", {text: "Environment"}));
    var env = Object.keys(meta).filter(function (name) { return name.indexOf("env.") === 0; }).sort();
    main.appendChild(kvTable(env.map(function (name) { return [name.slice(4), meta[name]]; }), "run-env"));
    var packages = det.environment === null || det.environment === undefined ? null : D.environments[det.environment];
    if (packages) {
      var names = Object.keys(packages).sort();
      var list = el("details", {id: "run-packages"}, [el("summary", {text: names.length + " packages (.flexgit/environment.txt)"}),
        el("pre", {text: names.map(function (name) { return packages[name] ? name + "==" + packages[name] : name; }).join("\n")})]);
      main.appendChild(list);
    } else if (!run.live) {
      main.appendChild(el("p", {"class": "muted", text: "No package list: recorded without .flexgit/environment.txt."}));
    }
    main.appendChild(el("h3", {text: "Meta"}));
    main.appendChild(kvTable(Object.keys(meta).filter(function (name) { return name.indexOf("env.") !== 0; }).sort()
      .map(function (name) { return [name, meta[name]]; }), "run-meta"));
    if ((det.files || []).length) {
      main.appendChild(el("h3", {text: "Run files"}));
      main.appendChild(el("p", {"class": "muted", id: "run-files", text: det.files.map(function (name) { return ".flexgit/" + name; }).join("  ")}));
    }
    if (det.log !== null && det.log !== undefined) {
      main.appendChild(el("h3", {text: "Output log (the end)"}));
      main.appendChild(el("pre", {id: "run-log", text: det.log}));
    }
    main.appendChild(el("h3", {text: "Files changed from the source commit"}));
    if (det.changes === null || det.changes === undefined) {
      main.appendChild(el("p", {"class": "muted", text: det.snapshot === null || det.snapshot === undefined
        ? "No code: this run was imported." : "The source commit is not in this clone: fetch it to see the changes."}));
    } else if (!det.changes.length) {
      main.appendChild(el("p", {"class": "muted", text: "None: the snapshot is the source commit."}));
    } else {
      main.appendChild(el("ul", {"class": "changes", id: "run-changes"}, det.changes.map(function (change) {
        return el("li", null, [el("span", {"class": "status-" + change[0], text: change[0] + " "}), change[1]]);
      })));
    }
  }

  // -- comparing runs ----------------------------------------------------------------------------

  function compareView(main, ids) {
    var chosen = ids.map(function (id) { return byId[id]; }).filter(Boolean);
    if (chosen.length < 2) {
      main.appendChild(el("p", {"class": "muted", text: "Select two or more runs in the table (their boxes), then Compare."}));
      return;
    }
    main.appendChild(el("h2", {text: "Comparing " + chosen.length + " runs"}));
    var all = el("input", {type: "checkbox", checked: state.allKeys, id: "all-keys"});
    all.onchange = function () { state.allKeys = all.checked; render(); };
    main.appendChild(el("div", {"class": "controls"}, [el("label", null, [all, " show the keys that are the same too"])]));
    var columns = chosen.map(sections), rows = [];
    SECTIONS.forEach(function (section) {
      var names = {};
      columns.forEach(function (column) { Object.keys(column[section] || {}).forEach(function (name) { names[name] = true; }); });
      var ordered = section === "run" ? RUN_KEYS.filter(function (name) { return names[name]; }) : Object.keys(names).sort();
      ordered.forEach(function (name) { rows.push([section, name]); });
    });
    var head = el("tr", null, [el("th", {text: ""})].concat(chosen.map(function (run) {
      return el("th", null, [link("#/run/" + run.id, run.name)]);
    })).concat(chosen.length === 2 ? [el("th", {text: "change"})] : []));
    var body = el("tbody");
    var differing = 0;
    rows.forEach(function (row) {
      var found = columns.map(function (column) { return (column[row[0]] || {})[row[1]]; });
      var identities = found.map(function (have) { return have === undefined ? "null" : JSON.stringify(have[0]); });
      var differs = identities.some(function (identity) { return identity !== identities[0]; });
      differing += differs ? 1 : 0;
      if (!differs && !state.allKeys) { return; }
      var name = row[0] === "run" ? row[1] : row[0] + "." + row[1];
      var cells = found.map(function (have) {
        var shown = have === undefined ? undefined : have[1];
        return el("td", {"class": (differs ? "differs " : "") + (isNumber(shown) ? "num" : ""), text: show(shown)});
      });
      if (chosen.length === 2) {
        cells.push(el("td", {"class": "delta", text: differs ? change(row[0], found[0], found[1]) : ""}));
      }
      body.appendChild(el("tr", {"data-key": name, "class": differs ? "differs" : null}, [el("th", {text: name})].concat(cells)));
    });
    main.appendChild(el("p", {"class": "muted", text: differing + " keys differ" + (state.allKeys ? "" : "; the others are hidden")}));
    main.appendChild(el("div", {"class": "scroll"}, [el("table", {"class": "compare", id: "compare-table"}, [el("thead", null, [head]), body])]));
    main.appendChild(el("h3", {text: "Code"}));
    var code = el("div", {id: "code-diff"});
    chosen.slice(1).forEach(function (run) { code.appendChild(codeDiff(chosen[0], run)); });
    main.appendChild(code);
    var keys = curveKeys(chosen);
    if (keys.length) {
      main.appendChild(el("h3", {text: "Curves"}));
      main.appendChild(curveControls(keys));
      main.appendChild(curveCharts(chosen, chosenMetrics(keys), state.xTime));
    }
  }

  // What `flexgit diff` compares (view/compare.py), section by section: each value as [as stored, as shown].
  // Two values are the same when their stored JSON is: NaN equals NaN, 1 is neither 1.0 nor true.
  var SECTIONS = ["run", "params", "metrics", "env", "packages", "meta"];
  var RUN_KEYS = ["id", "date", "message", "status", "group", "tags"];

  function sections(run) {
    var found = {run: {}, params: {}, metrics: {}, env: {}, meta: {}};
    D.columns.forEach(function (column, c) {
      var raw = run.raw[c], shown = run.cells[c];
      if (raw === null || raw === undefined) { return; }
      if (column.indexOf("params.") === 0) { found.params[column.slice(7)] = [raw, shown]; }
      else if (column.indexOf("metrics.") === 0) { found.metrics[column.slice(8)] = [raw, shown]; }
      else if (RUN_KEYS.indexOf(column) >= 0 && raw !== "" && !(Array.isArray(raw) && !raw.length)) {
        found.run[column] = [raw, shown];
      }
    });
    var det = run.det || {}, raw = det.rawMeta || {};
    Object.keys(raw).forEach(function (name) {
      var pair = [raw[name], det.meta[name]];
      if (name.indexOf("env.") === 0) { found.env[name.slice(4)] = pair; } else { found.meta[name] = pair; }
    });
    var packages = det.environment === null || det.environment === undefined ? null : D.environments[det.environment];
    if (packages) {
      found.packages = {};
      Object.keys(packages).forEach(function (name) { found.packages[name] = [packages[name], packages[name]]; });
    }
    return found;
  }

  // The change from the first of two values to the second, as `flexgit diff` words it.
  function change(section, a, b) {
    if (section === "packages") { return a === undefined ? "added" : b === undefined ? "removed" : "changed"; }
    if (a === undefined || b === undefined) { return ""; }
    var old = a[1], now = b[1];
    if (!isNumber(old) || !isNumber(now) || !isFinite(old) || !isFinite(now)) { return ""; }
    var ints = typeof a[0] === "number" && typeof b[0] === "number" && Number.isInteger(a[0]) && Number.isInteger(b[0]);
    var delta = now - old;
    var text = ints ? (delta >= 0 ? "+" : "") + delta : formatG(delta, 6, true);
    if (old) { text += " (" + (delta / Math.abs(old) >= 0 ? "+" : "") + (delta / Math.abs(old) * 100).toFixed(1) + "%)"; }
    return text;
  }

  // Python's format(x, "+.6g"): six significant digits, no trailing zeros, an exponent below 1e-4 or from 1e6.
  function formatG(x, digits, sign) {
    var prefix = sign && x >= 0 ? "+" : "";
    if (x === 0) { return prefix + "0"; }
    var exponent = Math.floor(Math.log10(Math.abs(Number(x.toPrecision(digits)))));
    var text;
    if (exponent < -4 || exponent >= digits) {
      var parts = x.toExponential(digits - 1).split("e");
      var mantissa = parts[0].indexOf(".") >= 0 ? parts[0].replace(/0+$/, "").replace(/\.$/, "") : parts[0];
      var power = Number(parts[1]);
      text = mantissa + "e" + (power < 0 ? "-" : "+") + (Math.abs(power) < 10 ? "0" : "") + Math.abs(power);
    } else {
      text = x.toFixed(Math.max(0, digits - 1 - exponent));
      if (text.indexOf(".") >= 0) { text = text.replace(/0+$/, "").replace(/\.$/, ""); }
    }
    return prefix + text;
  }

  function filesOf(snapshot) {
    if (!snapshotFiles[snapshot]) {
      var map = D.snapshots.maps[snapshot], files = {};
      for (var i = 0; i < map.length; i += 2) { files[D.snapshots.paths[map[i]]] = map[i + 1]; }
      snapshotFiles[snapshot] = files;
    }
    return snapshotFiles[snapshot];
  }

  function blobText(blob) {
    if (blob === undefined) { return ""; }
    var text = D.snapshots.texts[blob];
    return text === undefined ? null : text;
  }

  function codeDiff(a, b) {
    var box = el("div", {"class": "diff-pair"}, [el("h4", null, ["from ", link("#/run/" + a.id, a.name), " to ", link("#/run/" + b.id, b.name)])]);
    var sa = a.det ? a.det.snapshot : null, sb = b.det ? b.det.snapshot : null;
    if (sa === null || sa === undefined || sb === null || sb === undefined) {
      box.appendChild(el("p", {"class": "muted", text: "No code to compare: a run without a snapshot (imported)."}));
      return box;
    }
    var fa = filesOf(sa), fb = filesOf(sb);
    var paths = Object.keys(fa).concat(Object.keys(fb).filter(function (path) { return !(path in fa); })).sort();
    var changed = paths.filter(function (path) { return fa[path] !== fb[path]; });
    if (!changed.length) { box.appendChild(el("p", {"class": "muted", text: "The same code."})); return box; }
    changed.forEach(function (path) {
      var status = !(path in fa) ? "A" : (!(path in fb) ? "D" : "M");
      var file = el("div", {"class": "diff", "data-path": path}, [el("div", {"class": "file"}, [
        el("span", {"class": "status-" + status, text: status + " "}), path])]);
      var before = blobText(fa[path]), after = blobText(fb[path]);
      if (before === null || after === null) {
        var why = D.snapshots.omitted[before === null ? fa[path] : fb[path]] || "not in the report";
        file.appendChild(el("p", {"class": "muted", text: "Not shown (" + why + "); `flexgit diff " + a.name + " " + b.name + " --code` shows it."}));
      } else {
        file.appendChild(diffBlock(before, after));
      }
      box.appendChild(file);
    });
    return box;
  }

  function lines(text) {
    if (text === "") { return []; }
    var found = text.split("\n");
    if (found[found.length - 1] === "") { found.pop(); }
    return found;
  }

  // Myers' O(ND) difference of two lists of lines: [" " | "-" | "+", line] in order, or null when
  // the edit distance exceeds DIFF_LIMIT.
  function diffLines(a, b) {
    var start = 0;
    while (start < a.length && start < b.length && a[start] === b[start]) { start++; }
    var endA = a.length, endB = b.length;
    while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) { endA--; endB--; }
    var A = a.slice(start, endA), B = b.slice(start, endB), N = A.length, M = B.length, MAX = N + M;
    var offset = MAX + 1, v = new Int32Array(2 * MAX + 3), trace = [], d, k, x, y, found = false;
    for (d = 0; d <= MAX && !found; d++) {
      if (d > DIFF_LIMIT) { return null; }
      trace.push(v.slice(offset - d - 1, offset + d + 2));
      for (k = -d; k <= d; k += 2) {
        x = (k === -d || (k !== d && v[offset + k - 1] < v[offset + k + 1])) ? v[offset + k + 1] : v[offset + k - 1] + 1;
        y = x - k;
        while (x < N && y < M && A[x] === B[y]) { x++; y++; }
        v[offset + k] = x;
        if (x >= N && y >= M) { found = true; break; }
      }
    }
    var middle = [];
    x = N; y = M;
    for (d = trace.length - 1; d >= 0; d--) {
      var saved = trace[d], base = d + 1;  // saved[k + base] is v[k] before round d
      k = x - y;
      var prevK = (k === -d || (k !== d && saved[k - 1 + base] < saved[k + 1 + base])) ? k + 1 : k - 1;
      var prevX = saved[prevK + base], prevY = prevX - prevK;
      while (x > prevX && y > prevY) { middle.push([" ", A[x - 1]]); x--; y--; }
      if (d > 0) {
        if (x === prevX) { middle.push(["+", B[y - 1]]); } else { middle.push(["-", A[x - 1]]); }
      }
      x = prevX; y = prevY;
    }
    middle.reverse();
    var head = a.slice(0, start).map(function (line) { return [" ", line]; });
    var tail = a.slice(endA).map(function (line) { return [" ", line]; });
    return head.concat(middle, tail);
  }

  function diffBlock(before, after) {
    var a = lines(before), b = lines(after);
    var ops = diffLines(a, b);
    if (ops === null) {
      ops = a.map(function (line) { return ["-", line]; }).concat(b.map(function (line) { return ["+", line]; }));
    }
    var pre = el("pre"), oldLine = 0, newLine = 0, last = -Infinity, keep = [];
    ops.forEach(function (op, i) { if (op[0] !== " ") { for (var j = Math.max(0, i - CONTEXT); j <= Math.min(ops.length - 1, i + CONTEXT); j++) { keep[j] = true; } } });
    ops.forEach(function (op, i) {
      if (keep[i]) {
        if (i !== last + 1) {
          pre.appendChild(el("span", {"class": "line hunk", text: "@@ -" + (oldLine + 1) + " +" + (newLine + 1) + " @@"}));
        }
        pre.appendChild(el("span", {"class": "line " + (op[0] === "+" ? "add" : op[0] === "-" ? "del" : "ctx"), text: op[0] + " " + op[1]}));
        last = i;
      }
      if (op[0] !== "+") { oldLine++; }
      if (op[0] !== "-") { newLine++; }
    });
    return pre;
  }

  // -- curves ------------------------------------------------------------------------------------

  function curveKeys(chosen) {
    var keys = {};
    chosen.forEach(function (run) {
      (run.det && run.det.history || []).forEach(function (block) {
        Object.keys(block.metrics).forEach(function (name) { keys[name] = true; });
      });
    });
    return Object.keys(keys).sort();
  }

  // Metrics logged without a step (the system metrics flexgit run samples: sys.cpu, sys.rss, ...) have
  // no place on a step axis: they are drawn against time, on charts of their own.
  function splitKeys(chosen, keys) {
    var timed = keys.filter(function (name) {
      return !chosen.some(function (run) { var found = history(run), line = found && found.metrics[name]; return line && line.stepped; });
    });
    return {stepped: keys.filter(function (name) { return timed.indexOf(name) < 0; }), timed: timed};
  }

  function overTime(main, chosen, timed) {
    if (!timed.length) { return; }
    var system = timed.every(function (name) { return name.indexOf("sys.") === 0; });
    main.appendChild(el("h3", {text: system ? "System metrics" : "Logged over time"}));
    main.appendChild(el("p", {"class": "muted", text: (system ? "Sampled by flexgit run (system_metrics in its settings)"
      : "Logged without a step") + ", against the seconds since the run's first logged line." + (system ?
      " sys.cpu: % of one core; sys.rss and sys.gpu_mem: MiB; sys.gpu_util: % of the GPUs it uses." : "")}));
    main.appendChild(curveCharts(chosen, timed, true, "system-charts"));
  }

  function chosenMetrics(keys, preferred) {
    var wanted = (state.metrics || []).filter(function (name) { return keys.indexOf(name) >= 0; });
    return wanted.length ? wanted : (preferred && preferred.length ? preferred : keys).slice(0, 4);
  }

  function curveControls(keys, preferred) {
    var shown = chosenMetrics(keys, preferred);
    var boxes = keys.map(function (name) {
      var box = el("input", {type: "checkbox", checked: shown.indexOf(name) >= 0, "data-metric": name});
      box.onchange = function () {
        var now = chosenMetrics(keys, preferred).filter(function (other) { return other !== name; });
        if (box.checked) { now.push(name); }
        state.metrics = now.length ? now : [name];
        render();
      };
      return el("label", null, [box, " " + name]);
    });
    var time = el("select", {id: "x-axis"}, [el("option", {value: "step", text: "x: step", selected: !state.xTime}),
                                             el("option", {value: "time", text: "x: seconds since start", selected: state.xTime})]);
    time.onchange = function () { state.xTime = time.value === "time"; render(); };
    return el("div", {"class": "controls"}, [time].concat(boxes));
  }

  function curvesView(main, ids) {
    var chosen = ids.map(function (id) { return byId[id]; }).filter(Boolean);
    if (!chosen.length) {
      chosen = shownRuns().filter(function (run) { return history(run); }).slice(0, 10);
      main.appendChild(el("p", {"class": "muted", text: "No runs selected: the first " + chosen.length +
                                " runs of the table that have curves."}));
    }
    var keys = curveKeys(chosen);
    main.appendChild(el("h2", {text: "Step curves"}));
    if (!keys.length) { main.appendChild(el("p", {"class": "muted", text: "None of these runs logged steps (flexgit.log)."})); return; }
    var preferred = splitKeys(chosen, keys).stepped;
    main.appendChild(curveControls(keys, preferred));
    var shown = splitKeys(chosen, chosenMetrics(keys, preferred));
    if (shown.stepped.length) { main.appendChild(curveCharts(chosen, shown.stepped, state.xTime)); }
    overTime(main, chosen, shown.timed);
  }

  // A history comes as blocks of rows of text (project/curves.py), split only when a chart needs it:
  // per block, the field numbers of the step, the time (its text after the block's prefix) and each metric.
  function number(text) {
    var found = text === "" || text === undefined ? null : Number(text);
    return found === null || isFinite(found) ? found : null;
  }

  function history(run) {
    var blocks = run.det && run.det.history;
    if (!blocks || !blocks.length) { return null; }
    if (!run.curves) {
      var read = blocks.map(function (block) {
        var rows = block.rows === "" ? [] : block.rows.split(";").map(function (row) { return row.split(","); });
        var times = rows.map(function (row) {
          if (block.t < 0 || !row[block.t]) { return null; }
          var ms = Date.parse(block.prefix + row[block.t]);
          return isNaN(ms) ? null : ms;
        });
        return {block: block, rows: rows, times: times};
      });
      var first = Infinity;
      read.forEach(function (one) { one.times.forEach(function (ms) { if (ms !== null && ms < first) { first = ms; } }); });
      var metrics = {};
      read.forEach(function (one) {
        var steps = one.rows.map(function (row) { return one.block.step < 0 ? null : number(row[one.block.step]); });
        var seconds = one.times.map(function (ms) { return ms === null ? null : (ms - first) / 1000; });
        var stepped = steps.some(function (step) { return step !== null; });
        Object.keys(one.block.metrics).forEach(function (name) {
          var at = one.block.metrics[name], line = metrics[name] || (metrics[name] = {step: [], t: [], values: [], stepped: false});
          line.stepped = line.stepped || stepped;
          one.rows.forEach(function (row, i) { line.step.push(steps[i]); line.t.push(seconds[i]); line.values.push(number(row[at])); });
        });
      });
      run.curves = {metrics: metrics};
    }
    return run.curves;
  }

  function curveCharts(chosen, metrics, byTime, id) {
    var box = el("div", {"class": "charts", id: id || "charts"});
    metrics.forEach(function (name) {
      var series = [];
      chosen.forEach(function (run, i) {
        var found = history(run);
        if (!found || !found.metrics[name]) { return; }
        var line = found.metrics[name], xs = byTime ? line.t : line.step, ys = line.values, points = [];
        for (var j = 0; j < ys.length; j++) { if (ys[j] !== null && xs[j] !== null) { points.push([xs[j], ys[j]]); } }
        series.push({label: run.name, points: points, color: COLORS[i % COLORS.length]});
      });
      box.appendChild(chart(name, series, byTime ? "seconds since the first logged line" : "step", "line"));
    });
    return box;
  }

  // -- metric against param ----------------------------------------------------------------------

  function scatterView(main) {
    var params = D.columns.filter(function (column) { return column.indexOf("params.") === 0; });
    var metrics = D.columns.filter(function (column) { return column.indexOf("metrics.") === 0; });
    main.appendChild(el("h2", {text: "A metric against a param"}));
    if (!params.length || !metrics.length) { main.appendChild(el("p", {"class": "muted", text: "The runs need params and metrics."})); return; }
    if (params.indexOf(state.sx) < 0) { params.some(function (c) { return !constant[c] && (state.sx = c); }) || (state.sx = params[0]); }
    if (metrics.indexOf(state.sy) < 0) { state.sy = metrics[0]; }
    function picker(id, options, current, set) {
      var box = el("select", {id: id}, options.map(function (column) { return el("option", {value: column, text: column, selected: column === current}); }));
      box.onchange = function () { set(box.value); render(); };
      return box;
    }
    function flag(id, label, on, set) {
      var box = el("input", {type: "checkbox", id: id, checked: on});
      box.onchange = function () { set(box.checked); render(); };
      return el("label", null, [box, " " + label]);
    }
    main.appendChild(el("div", {"class": "controls"}, [
      "x ", picker("scatter-x", params, state.sx, function (v) { state.sx = v; }),
      "y ", picker("scatter-y", metrics, state.sy, function (v) { state.sy = v; }),
      flag("log-x", "log x", state.logX, function (v) { state.logX = v; }),
      flag("log-y", "log y", state.logY, function (v) { state.logY = v; })
    ]));
    var shown = shownRuns(), points = [], labels = [];
    var categories = {}, categorical = shown.some(function (run) { var have = value(run, state.sx); return have !== null && have !== undefined && !isNumber(have); });
    shown.forEach(function (run) {
      var x = value(run, state.sx), y = value(run, state.sy);
      if (x === null || x === undefined || !isNumber(y) || !isFinite(y)) { return; }
      if (categorical) {
        var name = show(x);
        if (!(name in categories)) { categories[name] = Object.keys(categories).length; }
        x = categories[name];
      } else if (!isFinite(x)) { return; }
      points.push([x, y]); labels.push(run.name + ": " + state.sx + " = " + show(value(run, state.sx)) + ", " + state.sy + " = " + show(y));
    });
    main.appendChild(el("p", {"class": "muted", text: points.length + " runs of the " + shown.length + " the table's filter keeps"}));
    main.appendChild(el("div", {"class": "charts", id: "charts"}, [chart(short(state.sy) + " against " + short(state.sx),
      [{label: state.sy, points: points, labels: labels, color: COLORS[0]}], state.sx, "points",
      {logX: state.logX && !categorical, logY: state.logY, categories: categorical ? Object.keys(categories) : null})]));
  }

  // -- one SVG chart -----------------------------------------------------------------------------

  function ticks(low, high, count) {
    if (!(high > low)) { return [low]; }
    var step = Math.pow(10, Math.floor(Math.log10((high - low) / count)));
    var err = (high - low) / count / step;
    step *= err >= 7.5 ? 10 : err >= 3.5 ? 5 : err >= 1.5 ? 2 : 1;
    var found = [];
    for (var t = Math.ceil(low / step) * step; t <= high + step * 1e-9; t += step) { found.push(Number(t.toPrecision(12))); }
    return found;
  }

  function chart(title, series, xLabel, kind, options) {
    options = options || {};
    var W = 560, H = 320, L = 62, R = 12, T = 10, B = 40;
    var fx = options.logX ? function (x) { return x > 0 ? Math.log10(x) : null; } : function (x) { return x; };
    var fy = options.logY ? function (y) { return y > 0 ? Math.log10(y) : null; } : function (y) { return y; };
    var xs = [], ys = [];
    series.forEach(function (one) {
      one.points.forEach(function (p) { var x = fx(p[0]), y = fy(p[1]); if (x !== null && y !== null && isFinite(x) && isFinite(y)) { xs.push(x); ys.push(y); } });
    });
    var box = el("div", {"class": "chart", "data-title": title}, [el("div", {"class": "title", text: title})]);
    var root = svg("svg", {width: W, height: H, viewBox: "0 0 " + W + " " + H, role: "img"});
    root.appendChild(svg("title", {}, title));
    if (!xs.length) {
      root.appendChild(svg("text", {x: W / 2, y: H / 2, "text-anchor": "middle"}, "no values"));
      box.appendChild(root);
      return box;
    }
    var x0 = Math.min.apply(null, xs), x1 = Math.max.apply(null, xs), y0 = Math.min.apply(null, ys), y1 = Math.max.apply(null, ys);
    if (options.categories) { x0 = -0.5; x1 = options.categories.length - 0.5; }
    if (x0 === x1) { x0 -= 1; x1 += 1; }
    if (y0 === y1) { var pad = Math.abs(y0) * 0.1 || 1; y0 -= pad; y1 += pad; }
    if (kind === "points") {  // room for the dots at the edges
      var padY = (y1 - y0) * 0.05; y0 -= padY; y1 += padY;
      if (!options.categories) { var padX = (x1 - x0) * 0.05; x0 -= padX; x1 += padX; }
    }
    var sx = function (x) { return L + (x - x0) / (x1 - x0) * (W - L - R); };
    var sy = function (y) { return H - B - (y - y0) / (y1 - y0) * (H - T - B); };
    var label = function (t, log) { return log ? show(Math.pow(10, t)) : show(t); };
    ticks(y0, y1, 5).forEach(function (t) {
      root.appendChild(svg("line", {"class": "grid", x1: L, x2: W - R, y1: sy(t), y2: sy(t)}));
      root.appendChild(svg("text", {x: L - 6, y: sy(t) + 4, "text-anchor": "end"}, label(t, options.logY)));
    });
    var xTicks = options.categories ? options.categories.map(function (_, i) { return i; }) : ticks(x0, x1, 6);
    xTicks.forEach(function (t) {
      root.appendChild(svg("line", {"class": "grid", x1: sx(t), x2: sx(t), y1: T, y2: H - B}));
      root.appendChild(svg("text", {x: sx(t), y: H - B + 15, "text-anchor": "middle"},
                           options.categories ? options.categories[t] : label(t, options.logX)));
    });
    root.appendChild(svg("line", {"class": "axis", x1: L, x2: W - R, y1: H - B, y2: H - B}));
    root.appendChild(svg("line", {"class": "axis", x1: L, x2: L, y1: T, y2: H - B}));
    root.appendChild(svg("text", {x: (L + W - R) / 2, y: H - 6, "text-anchor": "middle"}, xLabel + (options.logX ? " (log)" : "")));
    series.forEach(function (one) {
      var group = svg("g", {"class": "series-group"});
      if (kind === "line") {
        var d = "", pen = "M";
        one.points.forEach(function (p) {
          var x = fx(p[0]), y = fy(p[1]);
          if (x === null || y === null || !isFinite(x) || !isFinite(y)) { pen = "M"; return; }
          d += pen + sx(x).toFixed(1) + "," + sy(y).toFixed(1);
          pen = "L";
        });
        var path = svg("path", {"class": "series", d: d || "M0,0", stroke: one.color, "data-run": one.label});
        path.appendChild(svg("title", {}, one.label));
        group.appendChild(path);
      } else {
        one.points.forEach(function (p, i) {
          var x = fx(p[0]), y = fy(p[1]);
          if (x === null || y === null || !isFinite(x) || !isFinite(y)) { return; }
          var dot = svg("circle", {"class": "point", cx: sx(x).toFixed(1), cy: sy(y).toFixed(1), r: 4, fill: one.color, "fill-opacity": 0.7});
          dot.appendChild(svg("title", {}, one.labels ? one.labels[i] : one.label));
          group.appendChild(dot);
        });
      }
      root.appendChild(group);
    });
    box.appendChild(root);
    if (kind === "line") {
      box.appendChild(el("div", {"class": "legend"}, series.map(function (one) {
        return el("span", null, [el("span", {"class": "swatch", style: "background:" + one.color}), one.label]);
      })));
    }
    return box;
  }

  // -- routing and live refresh ------------------------------------------------------------------

  function route() {
    var parts = location.hash.replace(/^#\/?/, "").split("/");
    var ids = (parts[1] || "").split(",").filter(Boolean);
    return {view: parts[0] || "runs", arg: parts[1] || "", ids: ids};
  }

  function render() {
    if (!D) { return; }
    var where = route();
    if (where.view === "compare" || where.view === "curves") {
      where.ids.forEach(function (id) { if (byId[id]) { state.selected[id] = true; } });
    }
    var main = el("main");
    var current = {compare: "compare", curves: "curves", scatter: "scatter"}[where.view] || "runs";
    if (where.view === "run") { runView(main, where.arg); }
    else if (where.view === "compare") { compareView(main, where.ids); }
    else if (where.view === "curves") { curvesView(main, where.ids); }
    else if (where.view === "scatter") { scatterView(main); }
    else { tableView(main); }
    var scroll = window.scrollY;
    document.body.replaceChildren(dataNode, header(current), main);
    window.scrollTo(0, scroll);
  }

  function ready() {
    if (window.flexgitReady === undefined) { window.flexgitReady = performance.now(); }
    document.documentElement.setAttribute("data-ready", String(Number(document.documentElement.getAttribute("data-ready") || 0) + 1));
  }

  function fetchJson(path) {
    return fetch(path, {cache: "no-store"}).then(function (answer) {
      if (!answer.ok) { throw new Error(path + ": " + answer.status); }
      return answer.json();
    });
  }

  function poll(tips) {
    setTimeout(function () {
      fetchJson("tips.json").then(function (now) {
        if (now.tips === tips) { poll(tips); return; }
        return fetchJson("data.json").then(function (document_) {
          load(document_); render(); ready(); poll(document_.tips);
        });
      }).catch(function () {
        var info = document.getElementById("info");
        if (info) { info.textContent = "the server stopped: this page no longer updates"; }
      });
    }, 2000);
  }

  window.addEventListener("hashchange", function () { window.scrollTo(0, 0); render(); });
  if (live) {
    fetchJson("data.json").then(function (document_) { load(document_); render(); ready(); poll(document_.tips); });
  } else {
    load(JSON.parse(dataNode.textContent));
    render();
    ready();
  }
})();

/// The dashboard page, its script and style, compiled into the binary so `spikeq dashboard` works
/// from any directory. The script renders the JSON of `/api/snapshot` with DOM text nodes and SVG
/// (no innerHTML, no third-party code) and long-polls for changes.
enum DashboardAssets {
    static let html = """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>SpikeQuant dashboard</title>
        <link rel="stylesheet" href="/dashboard.css">
        </head>
        <body>
        <header>
          <h1>SpikeQuant <span id="run-name">…</span></h1>
          <p id="connection" class="connecting">connecting…</p>
        </header>
        <section id="summary" aria-label="progress"></section>
        <section>
          <h2>Pareto front: validation accuracy versus energy</h2>
          <p class="note">Filled: the front (with 95 % intervals); grey: dominated results; hollow: candidates measured only at a lower fidelity rung so far; dashed: FP32 references.</p>
          <div id="fronts" class="charts"></div>
        </section>
        <section>
          <h2>Hypervolume</h2>
          <div class="charts"><div id="hv-evaluations"></div><div id="hv-time"></div></div>
        </section>
        <section>
          <h2>Front members</h2>
          <table id="front-table"></table>
        </section>
        <section id="supernets-section" hidden>
          <h2>Supernet sweep</h2>
          <p class="note">One Gumbel-softmax supernet per energy weight λ; each derived configuration is fine-tuned and evaluated as a candidate.</p>
          <table id="supernets-table"></table>
        </section>
        <section>
          <h2>In flight</h2>
          <table id="inflight-table"></table>
        </section>
        <section>
          <h2>Workers</h2>
          <table id="workers-table"></table>
        </section>
        <section>
          <h2>Recent events</h2>
          <table id="events-table"></table>
        </section>
        <footer>Read-only view of <code id="run-dir"></code>. JSON: <a href="/api/snapshot">snapshot</a>,
        <a href="/api/run">run</a>, <a href="/api/front">front</a>, <a href="/api/hypervolume">hypervolume</a>,
        <a href="/api/inflight">in flight</a>, <a href="/api/workers">workers</a>, <a href="/api/events">events</a>.</footer>
        <script src="/dashboard.js"></script>
        </body>
        </html>
        """

    static let style = """
        body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em auto; max-width: 1200px; padding: 0 1em; color: #222; }
        h1 { font-size: 1.4em; margin: 0; } h2 { font-size: 1.1em; margin: 1.4em 0 .4em; }
        header { display: flex; justify-content: space-between; align-items: baseline; }
        #connection { margin: 0; font-size: .9em; } .live { color: #2a7a2a; } .error { color: #b00020; } .connecting { color: #777; }
        #summary { display: flex; flex-wrap: wrap; gap: .5em 2em; margin-top: .6em; }
        #summary div span { color: #666; margin-right: .3em; }
        .charts { display: flex; flex-wrap: wrap; gap: 1em; }
        .chart { border: 1px solid #ddd; border-radius: 4px; }
        .chart text { font-size: 11px; fill: #444; }
        table { border-collapse: collapse; width: 100%; font-size: .92em; }
        th, td { text-align: left; padding: .2em .6em; border-bottom: 1px solid #eee; white-space: nowrap; }
        td.wrap { white-space: normal; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
        .bar { display: inline-block; width: 120px; height: 8px; background: #eee; vertical-align: middle; }
        .bar > span { display: block; height: 100%; background: #3b6fb6; }
        .state-busy { color: #3b6fb6; } .state-lost { color: #b00020; } .state-idle { color: #777; }
        .note, footer { color: #666; font-size: .9em; } footer { margin-top: 2em; }
        """

    static let script = #"""
        'use strict';
        const SVG = 'http://www.w3.org/2000/svg';
        const colours = ['#3b6fb6', '#c0504d', '#4f9a4f', '#8064a2'];
        let version = '';

        function el(tag, attrs, ...children) {
          const node = document.createElement(tag);
          for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
          for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
          return node;
        }
        function svg(tag, attrs) {
          const node = document.createElementNS(SVG, tag);
          for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
          return node;
        }
        const num = v => typeof v === 'number' && isFinite(v);
        const pct = v => num(v) ? (100 * v).toFixed(2) + ' %' : '–';
        function ago(t) {
          if (!num(t)) return '–';
          const s = Math.max(0, Date.now() / 1000 - t);
          return s < 90 ? s.toFixed(0) + ' s ago' : s < 5400 ? (s / 60).toFixed(0) + ' min ago' : (s / 3600).toFixed(1) + ' h ago';
        }
        function duration(s) {
          if (!num(s)) return '–';
          return s < 90 ? s.toFixed(0) + ' s' : s < 5400 ? (s / 60).toFixed(1) + ' min' : (s / 3600).toFixed(2) + ' h';
        }
        function energy(pj) {
          if (!num(pj)) return '–';
          const a = Math.abs(pj);
          return a >= 1e9 ? (pj / 1e9).toFixed(3) + ' mJ' : a >= 1e6 ? (pj / 1e6).toFixed(3) + ' µJ' : a >= 1e3 ? (pj / 1e3).toFixed(3) + ' nJ' : pj.toFixed(1) + ' pJ';
        }
        function table(id, head, rows) {
          const t = document.getElementById(id);
          t.replaceChildren(el('tr', {}, ...head.map(h => el('th', {}, h))));
          if (rows.length === 0) t.append(el('tr', {}, el('td', { colspan: head.length, class: 'note' }, 'none')));
          for (const row of rows) t.append(el('tr', {}, ...row.map(c => c instanceof Node ? el('td', {}, c) : el('td', {}, c))));
        }

        /// A scatter or line chart in SVG: points [{x, y, lo, hi, kind, label}], dashed horizontal lines.
        function chart(title, xLabel, yLabel, points, lines, options) {
          const w = 540, h = 320, m = { l: 56, r: 14, t: 26, b: 42 };
          const root = svg('svg', { width: w, height: h, viewBox: `0 0 ${w} ${h}`, class: 'chart', role: 'img' });
          const label = svg('text', { x: m.l, y: 16 }); label.textContent = title; root.append(label);
          const xs = points.map(p => p.x).filter(num), ys = points.flatMap(p => [p.y, p.lo, p.hi]).concat(lines.map(l => l.y)).filter(num);
          if (xs.length === 0) {
            const empty = svg('text', { x: w / 2 - 40, y: h / 2 }); empty.textContent = 'no results yet'; root.append(empty); return root;
          }
          let [x0, x1] = [Math.min(...xs), Math.max(...xs)], [y0, y1] = [Math.min(...ys), Math.max(...ys)];
          if (x0 === x1) { x0 -= 1; x1 += 1; } if (y0 === y1) { y0 -= 0.01; y1 += 0.01; }
          const padX = (x1 - x0) * 0.05, padY = (y1 - y0) * 0.08; x0 -= padX; x1 += padX; y0 -= padY; y1 += padY;
          const X = x => m.l + (x - x0) / (x1 - x0) * (w - m.l - m.r), Y = y => h - m.b - (y - y0) / (y1 - y0) * (h - m.t - m.b);
          root.append(svg('rect', { x: m.l, y: m.t, width: w - m.l - m.r, height: h - m.t - m.b, fill: 'none', stroke: '#ccc' }));
          for (let i = 0; i <= 4; i++) {
            const xv = x0 + (x1 - x0) * i / 4, yv = y0 + (y1 - y0) * i / 4;
            const tx = svg('text', { x: X(xv) - 14, y: h - m.b + 14 }); tx.textContent = options.xFormat(xv); root.append(tx);
            const ty = svg('text', { x: 4, y: Y(yv) + 4 }); ty.textContent = options.yFormat(yv); root.append(ty);
          }
          const xl = svg('text', { x: w / 2 - 60, y: h - 6 }); xl.textContent = xLabel; root.append(xl);
          const yl = svg('text', { x: 4, y: m.t - 8 }); yl.textContent = yLabel; root.append(yl);
          lines.forEach((l, i) => {
            root.append(svg('line', { x1: m.l, x2: w - m.r, y1: Y(l.y), y2: Y(l.y), stroke: colours[(i + 1) % colours.length], 'stroke-dasharray': '5 4' }));
            const t = svg('text', { x: w - m.r - 150, y: Y(l.y) - 4 }); t.textContent = l.label; root.append(t);
          });
          if (options.line) {
            const path = points.filter(p => num(p.x) && num(p.y)).map((p, i) => (i ? 'L' : 'M') + X(p.x).toFixed(1) + ' ' + Y(p.y).toFixed(1)).join(' ');
            root.append(svg('path', { d: path, fill: 'none', stroke: colours[0], 'stroke-width': 2 }));
          }
          for (const p of points) {
            if (!num(p.x) || !num(p.y)) continue;
            if (p.kind === 'front' && num(p.lo) && num(p.hi)) root.append(svg('line', { x1: X(p.x), x2: X(p.x), y1: Y(p.lo), y2: Y(p.hi), stroke: colours[0], 'stroke-opacity': 0.5 }));
            const dot = p.kind === 'rung'
              ? svg('circle', { cx: X(p.x), cy: Y(p.y), r: 3, fill: 'none', stroke: '#999' })
              : svg('circle', { cx: X(p.x), cy: Y(p.y), r: p.kind === 'front' ? 4.5 : 3, fill: p.kind === 'front' ? colours[0] : '#bbb' });
            const tip = svg('title', {}); tip.textContent = p.label; dot.append(tip); root.append(dot);
          }
          return root;
        }

        function render(s) {
          const run = s.run;
          document.getElementById('run-name').textContent = run.name;
          document.getElementById('run-dir').textContent = run.directory;
          document.title = 'SpikeQuant: ' + run.name;
          const budget = num(run.evaluationBudget) ? ` of ${run.evaluationBudget}` : '';
          const hv = s.hypervolume.length ? s.hypervolume[s.hypervolume.length - 1].value.toFixed(5) : '–';
          const facts = [
            ['evaluations', `${run.finished}${budget} finished, ${run.done} with a result`],
            ['in flight', s.inFlight.length],
            ['QAT steps', run.qatSteps + (run.rungResults ? ` (${run.rungResults} lower-rung results)` : '')],
            ['hypervolume', hv],
            ['active', duration(run.activeSeconds)],
            ['last event', ago(run.lastEvent)],
          ];
          for (const ref of s.references) facts.push([ref.label, `validation ${pct(ref.accuracy.validation)}, test ${pct(ref.accuracy.test)}`]);
          document.getElementById('summary').replaceChildren(...facts.map(([k, v]) => el('div', {}, el('span', {}, k), String(v))));

          const fronts = document.getElementById('fronts');
          fronts.replaceChildren();
          for (const model of run.energyModels) {
            const point = (p, kind) => ({
              x: p.energy[model] ? p.energy[model].reduction : NaN, y: p.accuracy.validation, kind,
              lo: p.intervals.validation ? p.intervals.validation.lower : NaN, hi: p.intervals.validation ? p.intervals.validation.upper : NaN,
              label: `#${p.id} ${p.config}: ${pct(p.accuracy.validation)}, ${p.averageBits.toFixed(2)} bits` + (num(p.steps) ? ` (${p.steps} fine-tune steps)` : ''),
            });
            const points = s.lowerRungs.map(p => point(p, 'rung')).concat(s.dominated.map(p => point(p, 'dominated')), s.front.map(p => point(p, 'front')));
            const lines = s.references.filter(r => num(r.accuracy.validation)).map(r => ({ y: r.accuracy.validation, label: r.label }));
            fronts.append(chart(`energy table ${model}`, 'energy reduction vs FP32 (×)', 'validation accuracy',
              points, lines, { xFormat: v => v.toFixed(1) + '×', yFormat: v => (100 * v).toFixed(1) }));
          }
          if (run.energyModels.length === 0) fronts.append(chart('front', 'energy reduction', 'accuracy', [], [], {}));
          const hvPoints = s.hypervolume.map(p => ({ x: p.evaluations, y: p.value, kind: 'front', label: `${p.evaluations}: ${p.value.toFixed(5)}` }));
          document.getElementById('hv-evaluations').replaceChildren(chart('hypervolume over evaluations', 'evaluations', 'hypervolume',
            hvPoints, [], { line: true, xFormat: v => v.toFixed(0), yFormat: v => v.toFixed(3) }));
          const hvTime = s.hypervolume.map(p => ({ x: p.wallSeconds / 60, y: p.value, kind: 'front', label: `${duration(p.wallSeconds)}: ${p.value.toFixed(5)}` }));
          document.getElementById('hv-time').replaceChildren(chart('hypervolume over active time', 'minutes', 'hypervolume',
            hvTime, [], { line: true, xFormat: v => v.toFixed(1), yFormat: v => v.toFixed(3) }));

          const interval = (p, split) => p.intervals[split] ? ` [${(100 * p.intervals[split].lower).toFixed(1)}, ${(100 * p.intervals[split].upper).toFixed(1)}]` : '';
          // final.reseeds: the test accuracy over every fine-tune seed, when the run re-tuned its front.
          const reseeded = s.front.some(p => p.overSeeds && p.overSeeds.test);
          const overSeeds = p => p.overSeeds && p.overSeeds.test
            ? `${(100 * p.overSeeds.test.mean).toFixed(2)} ± ${(100 * p.overSeeds.test.standardDeviation).toFixed(2)} % (n = ${p.overSeeds.test.count})` : '–';
          table('front-table', ['#', 'config', 'bits', 'validation (95 % CI)', 'test (95 % CI)'].concat(reseeded ? ['test over seeds'] : [])
            .concat(run.energyModels.map(m => 'energy ' + m)),
            s.front.map(p => [`#${p.id}`, el('span', { class: 'wrap' }, p.config), p.averageBits.toFixed(2),
              pct(p.accuracy.validation) + interval(p, 'validation'), pct(p.accuracy.test) + interval(p, 'test')]
              .concat(reseeded ? [overSeeds(p)] : [])
              .concat(run.energyModels.map(m => p.energy[m] ? `${energy(p.energy[m].picojoules)} (${p.energy[m].reduction.toFixed(2)}×)` : '–'))));

          document.getElementById('supernets-section').hidden = s.supernets.length === 0;
          table('supernets-table', ['λ', 'derived configuration', 'bits', 'predicted energy', 'steps', 'candidate', 'validation', 'on front'],
            s.supernets.map(n => [n.lambda, el('span', { class: 'wrap' }, n.config), n.averageBits.toFixed(2), n.predictedEnergy.toFixed(3) + ' × FP32',
              n.steps, num(n.candidateId) ? `#${n.candidateId}` : 'not yet', num(n.accuracy) ? (n.accuracy * 100).toFixed(2) + ' %' : '–',
              n.onFront ? 'yes' : '']));

          table('inflight-table', ['candidate', 'attempt', 'rung', 'worker', 'since', 'phase', 'progress', 'loss'],
            s.inFlight.map(f => {
              const p = f.progress;
              const fraction = p && p.steps > 0 ? p.step / p.steps : p && p.epochs > 0 ? p.epoch / p.epochs : 0;
              const fill = el('span', {});
              fill.style.width = (100 * Math.min(1, fraction)).toFixed(0) + '%';  // CSSOM: allowed by the page's CSP
              const bar = el('span', { class: 'bar' }, fill);
              return [`#${f.candidateId}`, f.attempt, f.rung, f.worker, ago(f.dispatchedAt), p ? p.phase : 'dispatched',
                p && p.steps > 0 ? el('span', {}, bar, ` ${p.step}/${p.steps}`) : bar, p && num(p.loss) ? p.loss.toFixed(3) : '–'];
            }));

          table('workers-table', ['worker', 'state', 'busy', 'finished', 'per hour', 'connects', 'lost', 'last seen', 'note'],
            s.workers.map(w => [w.name, el('span', { class: 'state-' + w.state }, w.state),
              duration(w.busySeconds + (num(w.busySince) ? Math.max(0, Date.now() / 1000 - w.busySince) : 0)), w.finishedAttempts,
              num(w.throughputPerHour) ? w.throughputPerHour.toFixed(1) : '–', w.connects, w.lost, ago(w.lastSeen),
              w.quarantined ? 'quarantined: ' + w.quarantined : '']));

          table('events-table', ['time', 'event', 'candidate', 'worker', 'details'],
            s.events.map(e => [new Date(e.time * 1000).toLocaleTimeString(), e.kind, num(e.candidateId) ? `#${e.candidateId}` + (num(e.attempt) ? `/${e.attempt}` : '') : '',
              e.worker || '', el('span', { class: 'wrap' }, e.payload === '{}' ? '' : e.payload)]));
        }

        function connection(state, text) {
          const node = document.getElementById('connection');
          node.className = state;
          node.textContent = text;
        }
        window.addEventListener('error', event => connection('error', 'page error: ' + event.message));

        async function poll() {
          try {
            const response = await fetch('/api/snapshot' + (version ? '?after=' + encodeURIComponent(version) : ''), { cache: 'no-store' });
            if (!response.ok) throw new Error('HTTP ' + response.status);
            const snapshot = await response.json();
            if (snapshot.version !== version) {
              version = snapshot.version;
              render(snapshot);
            }
            connection('live', 'live · updated ' + new Date().toLocaleTimeString());
            setTimeout(poll, 1000);
          } catch (error) {
            connection('error', 'cannot reach the dashboard server (' + error.message + '); retrying');
            setTimeout(poll, 3000);
          }
        }
        poll();
        """#
}

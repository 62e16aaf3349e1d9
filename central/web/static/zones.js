/* Zone editor: zone polygons and door lines drawn in SVG over the camera's latest picture. Points are kept in
   the picture's pixels and saved with frame_size = the picture's size (the edge scales them to its frames).
   No library: pointer events (mouse and touch), one SVG, a side panel of zones. */
(function () {
  "use strict";
  var root = document.getElementById("zone-editor");
  var dataEl = document.getElementById("zone-data");
  if (!root || !dataEl) return;
  var data = JSON.parse(dataEl.textContent);
  var L = JSON.parse(root.getAttribute("data-labels"));
  var SVGNS = "http://www.w3.org/2000/svg";
  var pic = data.picture;
  var doc = data.document || {camera_id: data.camera_id, zones: []};
  var size = pic ? [pic.width, pic.height] : (doc.frame_size || [1280, 720]);
  var W = size[0], H = size[1];
  var editable = !!data.can_edit;

  function scaled(points, from) {
    if (!points) return null;
    var sx = from ? W / from[0] : 1, sy = from ? H / from[1] : 1;
    return points.map(function (p) { return [p[0] * sx, p[1] * sy]; });
  }
  var zones = (doc.zones || []).map(function (z) {
    var copy = Object.assign({}, z);
    copy.zone_id = String(z.zone_id);
    copy.polygon = scaled(z.polygon, doc.frame_size);
    copy.door_line = scaled(z.door_line, doc.frame_size);
    return copy;
  });
  var proposal = data.proposal;
  var selected = zones.length ? 0 : -1;
  var mode = null;       // null | "zone" | "door"
  var draft = [];        // points of the zone or door line being drawn
  var problems = [];     // [{zone_id, point, reason}] from the last save

  var stage = document.getElementById("zone-stage");
  var svg = document.createElementNS(SVGNS, "svg");
  svg.setAttribute("viewBox", "0 0 " + W + " " + H);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", L.current);
  stage.appendChild(svg);

  function el(name, attrs, parent) {
    var n = document.createElementNS(SVGNS, name);
    for (var k in attrs) n.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(n);
    return n;
  }
  function pts(list) { return list.map(function (p) { return p[0].toFixed(1) + "," + p[1].toFixed(1); }).join(" "); }
  function toPicture(evt) {
    var pt = svg.createSVGPoint();
    pt.x = evt.clientX; pt.y = evt.clientY;
    var p = pt.matrixTransform(svg.getScreenCTM().inverse());
    return [Math.max(0, Math.min(W, Math.round(p.x * 10) / 10)), Math.max(0, Math.min(H, Math.round(p.y * 10) / 10))];
  }
  function pxPerUnit() { return svg.getBoundingClientRect().width / W; }
  function badZone(z) { return problems.some(function (p) { return p.zone_id === z.zone_id; }); }
  function badPoint(z, i) { return problems.some(function (p) { return p.zone_id === z.zone_id && p.point === i; }); }
  function centroid(poly) {
    var x = 0, y = 0;
    poly.forEach(function (p) { x += p[0]; y += p[1]; });
    return [x / poly.length, y / poly.length];
  }

  function fit() {  // the whole picture on screen: as wide as the column, at most 70 % of the window's height
    var width = Math.min(stage.clientWidth || W, 0.7 * window.innerHeight * W / H);
    svg.style.width = Math.max(120, Math.floor(width)) + "px";
  }

  function draw() {
    fit();
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    if (pic) el("image", {href: pic.url, x: 0, y: 0, width: W, height: H}, svg);
    else el("rect", {x: 0, y: 0, width: W, height: H, fill: "#555"}, svg);
    if (proposal) {
      var g = el("g", {"class": "proposal"}, svg);
      var pdoc = proposal.zones;
      (pdoc.zones || []).forEach(function (z) {
        el("polygon", {points: pts(scaled(z.polygon, pdoc.frame_size))}, g);
        if (z.door_line) {
          var d = scaled(z.door_line, pdoc.frame_size);
          el("line", {"class": "door", x1: d[0][0], y1: d[0][1], x2: d[1][0], y2: d[1][1]}, g);
        }
      });
    }
    zones.forEach(function (z, zi) {
      var poly = el("polygon", {points: pts(z.polygon), "data-zone": z.zone_id,
                                "class": (zi === selected ? "sel" : "") + (badZone(z) ? " bad" : "")}, svg);
      poly.addEventListener("pointerdown", function (evt) {
        if (mode) return;
        selected = zi; evt.stopPropagation(); render();
      });
      if (z.door_line) {
        var d = z.door_line;
        el("line", {"class": "door", x1: d[0][0], y1: d[0][1], x2: d[1][0], y2: d[1][1]}, svg);
      }
      var c = centroid(z.polygon);
      var t = el("text", {x: c[0], y: c[1], "text-anchor": "middle"}, svg);
      t.textContent = z.zone_id;
    });
    var z = zones[selected];
    if (z && editable && !mode) {
      z.polygon.forEach(function (p, i) { handle(z.polygon, i, badPoint(z, i)); });
      if (z.door_line) z.door_line.forEach(function (p, i) { handle(z.door_line, i, false); });
    }
    if (mode && draft.length) {
      el("polyline", {"class": "drawing", points: pts(draft)}, svg);
      draft.forEach(function (p, i) {
        var c = el("circle", {cx: p[0], cy: p[1], r: 6 / pxPerUnit(), "data-draft": i}, svg);
        if (i === 0 && mode === "zone") c.addEventListener("pointerdown", function (evt) {
          evt.stopPropagation();
          if (draft.length >= 3) finishZone();
        });
      });
    }
  }

  function handle(list, i, bad) {
    var p = list[i];
    var c = el("circle", {cx: p[0], cy: p[1], r: 6 / pxPerUnit(), "class": bad ? "bad" : ""}, svg);
    c.addEventListener("pointerdown", function (evt) {
      evt.stopPropagation(); evt.preventDefault();
      c.setPointerCapture(evt.pointerId);
      function move(e) { list[i] = toPicture(e); c.setAttribute("cx", list[i][0]); c.setAttribute("cy", list[i][1]); }
      function up() {
        c.removeEventListener("pointermove", move); c.removeEventListener("pointerup", up);
        problems = []; render();
      }
      c.addEventListener("pointermove", move); c.addEventListener("pointerup", up);
    });
  }

  svg.addEventListener("pointerdown", function (evt) {
    if (!mode) return;
    draft.push(toPicture(evt));
    if (mode === "door" && draft.length === 2) {
      zones[selected].door_line = draft; draft = []; mode = null; problems = [];
      render(); return;
    }
    draw(); hint();
  });

  function nextId() {
    var n = zones.length + 1;
    var ids = zones.map(function (z) { return z.zone_id; });
    while (ids.indexOf("z-" + n) >= 0) n++;
    return "z-" + n;
  }
  function finishZone() {
    zones.push({zone_id: nextId(), polygon: draft, door_line: null});
    selected = zones.length - 1; draft = []; mode = null; problems = [];
    render();
  }

  function hint() {
    var h = document.getElementById("zone-hint");
    h.textContent = !editable ? L.read_only : mode === "zone" ? L.drawing : mode === "door" ? L.door_drawing : "";
  }

  function button(label, cls, fn) {
    var b = document.createElement("button");
    b.type = "button"; b.textContent = label; b.className = cls || "";
    b.addEventListener("click", fn);
    return b;
  }

  function panel() {
    var list = document.getElementById("zone-list");
    list.textContent = "";
    zones.forEach(function (z, zi) {
      var fs = document.createElement("fieldset");
      fs.className = (zi === selected ? "sel" : "") + (badZone(z) ? " bad" : "");
      fs.setAttribute("data-zone", z.zone_id);
      var lg = document.createElement("legend");
      lg.textContent = L.zone + " " + z.zone_id;
      fs.appendChild(lg);
      fs.addEventListener("click", function () { if (selected !== zi) { selected = zi; render(); } });
      var idl = document.createElement("label");
      idl.textContent = L.zone_id + " ";
      var idi = document.createElement("input");
      idi.value = z.zone_id; idi.disabled = !editable; idi.maxLength = 128; idi.name = "zone_id";
      idi.addEventListener("change", function () { z.zone_id = idi.value.trim(); render(); });
      idl.appendChild(idi); fs.appendChild(idl);
      var sl = document.createElement("label");
      sl.textContent = L.shop + " ";
      var sel = document.createElement("select");
      sel.name = "shop_id"; sel.disabled = !editable;
      var none = document.createElement("option");
      none.value = ""; none.textContent = L.no_shop; sel.appendChild(none);
      data.shops.forEach(function (s) {
        var o = document.createElement("option");
        o.value = s.id; o.textContent = s.id + " · " + s.name;
        if (s.id === z.shop_id) o.selected = true;
        sel.appendChild(o);
      });
      sel.addEventListener("change", function () { if (sel.value) z.shop_id = sel.value; else delete z.shop_id; });
      sl.appendChild(sel); fs.appendChild(sl);
      problems.filter(function (p) { return p.zone_id === z.zone_id; }).forEach(function (p) {
        var m = document.createElement("p");
        m.className = "problem";
        m.textContent = (p.point !== null && p.point !== undefined ? L.point.replace("%(n)s", p.point + 1) + ": " : "")
          + p.reason;
        fs.appendChild(m);
      });
      list.appendChild(fs);
    });
    problems.filter(function (p) { return !p.zone_id; }).forEach(function (p) {
      var m = document.createElement("p");
      m.className = "problem"; m.textContent = p.reason;
      list.appendChild(m);
    });
    var acts = document.getElementById("zone-actions");
    acts.textContent = "";
    if (!editable) return;
    acts.appendChild(button(L.new_zone, "", function () { mode = "zone"; draft = []; render(); }));
    if (zones[selected]) {
      acts.appendChild(button(L.draw_door, "", function () { mode = "door"; draft = []; render(); }));
      acts.appendChild(button(L.delete_zone, "", function () {
        zones.splice(selected, 1); selected = zones.length ? 0 : -1; render();
      }));
    }
    acts.appendChild(button(L.save, "primary", function () { save(outDocument()); }));
    if (proposal) acts.appendChild(button(L.accept, "primary", function () { save(proposal.zones); }));
  }

  function render() { draw(); panel(); hint(); }

  function outDocument() {
    var out = {};
    for (var k in doc) if (k !== "zones" && k !== "frame_size") out[k] = doc[k];
    out.camera_id = data.camera_id;
    out.frame_size = [W, H];
    out.zones = zones.map(function (z) {
      var o = Object.assign({}, z);
      if (!o.door_line) delete o.door_line;
      if (!o.shop_id) delete o.shop_id;
      return o;
    });
    return out;
  }

  function save(document_) {
    var result = document.getElementById("zone-result");
    result.className = ""; result.textContent = L.saving;
    fetch(data.save_url, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "Accept": "application/json"},
      body: JSON.stringify({document: document_})
    }).then(function (resp) {
      return resp.json().catch(function () { return {errors: [{reason: resp.status + " " + resp.statusText}]}; })
        .then(function (body) { return {ok: resp.ok, body: body}; });
    }).then(function (r) {
      if (r.ok && !r.body.errors) {
        problems = [];
        if (document_ === (proposal && proposal.zones)) { window.location.reload(); return; }
        result.className = "ok"; result.textContent = L.saved.replace("%(id)s", r.body.command_id);
      } else {
        problems = r.body.errors || [];
        result.className = "bad";
        result.textContent = problems.some(function (p) { return p.zone_id; }) ? L.failed
          : L.error + " " + problems.map(function (p) { return p.reason; }).join("; ");
      }
      render();
    }).catch(function (err) {
      result.className = "bad"; result.textContent = L.error + " " + err;
    });
  }

  render();
  window.addEventListener("resize", draw);
})();

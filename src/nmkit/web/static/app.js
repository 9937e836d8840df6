"use strict";
// The nmkit page: upload, poll the job, show its numbers, figures, downloads and (PET) a slice viewer.
const $ = (id) => document.getElementById(id);
let workflows = [];

function show(id, on) { $(id).hidden = !on; }
function text(tag, content, cls) {
  const el = document.createElement(tag);
  el.textContent = content;
  if (cls) el.className = cls;
  return el;
}
function fail(message) {
  $("error").textContent = message;
  show("error", true);
  show("progress-box", false);
  $("go").disabled = false;
}

async function loadWorkflows() {
  workflows = await (await fetch("/api/workflows")).json();
  for (const w of workflows) {
    const option = text("option", w.title + (w.ready ? "" : " (no model loaded)"));
    option.value = w.key;
    option.disabled = !w.ready;
    $("workflow").appendChild(option);
  }
  $("accepts").textContent = "Accepted: " + workflows.map((w) => w.accepts).join("; ") + ".";
}

function upload(form) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/analyses");
    xhr.responseType = "json";
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) { $("progress").value = 0.3 * e.loaded / e.total; $("stage").textContent = "uploading"; }
    };
    xhr.onload = () => (xhr.status === 202 ? resolve(xhr.response)
      : reject(new Error((xhr.response && xhr.response.detail) || "upload refused (HTTP " + xhr.status + ")")));
    xhr.onerror = () => reject(new Error("the server could not be reached"));
    xhr.send(form);
  });
}

async function poll(id) {
  for (;;) {
    const response = await fetch("/api/analyses/" + id);
    const state = await response.json();
    if (!response.ok) throw new Error(state.detail || "lost the analysis");
    $("progress").value = 0.3 + 0.7 * state.fraction;
    $("stage").textContent = state.stage;
    if (state.status === "done") return state.result;
    if (state.status === "error") throw new Error(state.error);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function render(result) {
  const base = "/api/analyses/" + result.id + "/files/";
  $("result-title").textContent = result.title + ": " + result.file;
  show("verdict", Boolean(result.verdict));
  if (result.verdict) {
    $("verdict").textContent = "verdict: " + result.verdict;
    $("verdict").className = result.verdict;
    $("verdict").dataset.verdict = result.verdict;
  }
  const table = $("numbers");
  table.replaceChildren();
  for (const n of result.numbers) {
    const row = document.createElement("tr");
    row.dataset.key = n.key;
    row.append(text("th", n.label), text("td", String(n.value), "value"), text("td", n.unit));
    table.appendChild(row);
  }
  $("figures").replaceChildren(...result.figures.map((name) => {
    const img = document.createElement("img");
    img.src = base + name;
    img.alt = name;
    return img;
  }));
  $("downloads").replaceChildren(text("span", "Download: "), ...result.downloads.map((name) => {
    const a = text("a", name + " ");
    a.href = base + name;
    if (!name.endsWith(".html")) a.download = name;
    return a;
  }));
  show("viewer", Boolean(result.viewer));
  if (result.viewer) viewer(base, result.viewer);
  show("result", true);
}

async function viewer(base, spec) {
  const [slices, height, width] = spec.shape;
  const volumes = await Promise.all(Object.entries(spec.volumes).map(async ([label, name]) =>
    [label, new Uint8Array(await (await fetch(base + name)).arrayBuffer())]));
  const canvases = volumes.map(([label]) => {
    const figure = document.createElement("figure");
    const canvas = document.createElement("canvas");
    canvas.width = width; canvas.height = height;
    figure.append(canvas, text("figcaption", label + " (0 to " + spec.suv_max + " SUVbw)"));
    return [figure, canvas];
  });
  $("canvases").replaceChildren(...canvases.map(([f]) => f));
  const slider = $("slice");
  slider.max = slices - 1;
  slider.value = Math.floor(slices / 2);
  const draw = () => {
    const k = Number(slider.value);
    $("slice-label").textContent = "axial slice " + (k + 1) + " of " + slices;
    volumes.forEach(([, data], i) => {
      const canvas = canvases[i][1];
      const context = canvas.getContext("2d");
      const image = context.createImageData(width, height);
      for (let p = 0; p < width * height; p++) {
        const v = 255 - data[k * width * height + p];
        image.data.set([v, v, v, 255], 4 * p);
      }
      context.putImageData(image, 0, 0);
    });
  };
  slider.oninput = draw;
  draw();
}

document.addEventListener("DOMContentLoaded", () => {
  loadWorkflows().catch(() => fail("could not list the workflows"));
  $("upload").addEventListener("submit", async (event) => {
    event.preventDefault();
    show("error", false);
    show("result", false);
    show("progress-box", true);
    $("progress").value = 0;
    $("go").disabled = true;
    try {
      const form = new FormData();
      form.append("file", $("file").files[0]);
      form.append("workflow", $("workflow").value);
      const job = await upload(form);
      render(await poll(job.id));
      show("progress-box", false);
      $("go").disabled = false;
    } catch (err) {
      fail(err.message);
    }
  });
});

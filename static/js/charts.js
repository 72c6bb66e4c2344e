// Charts: every canvas[data-chart-src] gets the Chart.js configuration its URL returns
// (templates/macros/visuals.html; docs/charts.md). The data never comes from an inline script:
// the Content-Security-Policy allows scripts from 'self' only. When done, the canvas carries
// data-chart-ready="yes", "empty" or "error", which browser tests wait for.
"use strict";

(() => {
  // JSON cannot carry functions, so the server names presets in options.plugins.poa:
  //   unit: "kWh"            tooltip values get the unit appended
  //   yTicks: "thousands"     y-axis ticks with thousands separators
  //   gapColour: "rgba(...)"  shade the days where the first dataset has no value (null)
  const numberFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 3 });

  const gapPlugin = {
    id: "poa",
    beforeDatasetsDraw(chart, _args, options) {
      const colour = options && options.gapColour;
      const dataset = chart.data.datasets[0];
      const x = chart.scales.x;
      if (!colour || !dataset || !x || chart.data.labels.length < 2) return;
      const { ctx, chartArea } = chart;
      const step = (x.getPixelForValue(1) - x.getPixelForValue(0)) || 0;
      ctx.save();
      ctx.fillStyle = colour;
      dataset.data.forEach((value, index) => {
        if (value !== null && value !== undefined) return;
        const centre = x.getPixelForValue(index);
        ctx.fillRect(centre - step / 2, chartArea.top, Math.max(step, 1), chartArea.bottom - chartArea.top);
      });
      ctx.restore();
    },
  };

  const applyPresets = (config) => {
    const options = (config.options = config.options || {});
    const plugins = (options.plugins = options.plugins || {});
    const poa = plugins.poa || {};
    if (poa.unit) {
      const tooltip = (plugins.tooltip = plugins.tooltip || {});
      const callbacks = (tooltip.callbacks = tooltip.callbacks || {});
      callbacks.label = (item) => {
        if (item.raw === null || item.raw === undefined) return `${item.dataset.label}: no reading`;
        return `${item.dataset.label}: ${numberFormat.format(Number(item.raw))} ${poa.unit}`;
      };
    }
    if (poa.yTicks === "thousands" && options.scales && options.scales.y) {
      const ticks = (options.scales.y.ticks = options.scales.y.ticks || {});
      ticks.callback = (value) => numberFormat.format(Number(value));
    }
    // The box sets the height (.chart-small/normal/tall): never let the canvas choose it.
    options.maintainAspectRatio = false;
    config.plugins = [gapPlugin];
    return config;
  };

  const isEmpty = (config) => {
    const data = config && config.data;
    if (!data || !Array.isArray(data.datasets) || !Array.isArray(data.labels) || data.labels.length === 0) {
      return true;
    }
    return !data.datasets.some((dataset) =>
      (dataset.data || []).some((value) => value !== null && value !== undefined));
  };

  const say = (canvas, text, state) => {
    const figure = canvas.closest("figure") || canvas.parentElement;
    const box = canvas.closest(".chart-box");
    const message = document.createElement("p");
    message.className = "chart-message";
    message.setAttribute("role", "status");
    message.textContent = text;
    if (box) box.hidden = true;
    figure.insertBefore(message, figure.querySelector("figcaption"));
    canvas.dataset.chartReady = state;
  };

  const draw = (canvas) => {
    fetch(canvas.dataset.chartSrc, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then((response) => {
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        return response.json();
      })
      .then((config) => {
        if (isEmpty(config)) {
          say(canvas, "No data yet.", "empty");
          return;
        }
        if (typeof window.Chart !== "function") throw new Error("Chart.js did not load");
        new window.Chart(canvas, applyPresets(config));
        canvas.dataset.chartReady = "yes";
      })
      .catch((error) => {
        say(canvas, `The chart could not be loaded (${error.message}). The figures are on the linked table or page.`, "error");
      });
  };

  const start = () => document.querySelectorAll("canvas[data-chart-src]").forEach(draw);
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();

/* Maps of sites (templates/macros/visuals.html, docs/maps.md).
 *
 * Every element with data-map-sites becomes a Leaflet map: the sites GeoJSON (data-map-sites), an
 * optional boundary GeoJSON (data-map-boundary), base-map tiles only when data-map-tiles holds a URL
 * template (empty: a plain background, which works offline). Points are circle markers on one
 * canvas (preferCanvas) added in slices, so 100,000 sites never freeze the page. Popups are built
 * from DOM nodes and textContent only: site names are user data (no innerHTML, no XSS).
 * When drawn, the element gets data-map-ready="yes" (browser tests wait for it), or "error".
 */
(function () {
  "use strict";

  var PALETTE = {
    // site status (sites.models.SiteStatus)
    draft: "#6c757d",
    not_eligible: "#c62828",
    eligible: "#e6a100",
    awaiting_confirmation: "#7b3fa0",
    included: "#1f9d55",
    crediting: "#0b6e4f",
    crediting_ended: "#9aa3ab",
    under_review: "#d6336c",
    excluded: "#3d0c0c",
    withdrawn: "#a47148",
    // verification sample state (verification.services.sample_map)
    not_sampled: "#b0b7bf",
    to_do: "#2e6da4",
    conforming: "#1f9d55",
    error: "#c62828",
    non_conformity: "#e6a100"
  };
  var FALLBACK = "#2e6da4";
  var SLICE = 5000; // markers added per animation frame
  // Popup rows: property, label, suffix. Only the properties a feature has are shown.
  var DETAILS = [
    ["status", "Status", ""],
    ["state", "Finding", ""],
    ["sampled", "Sampled", ""],
    ["stratum", "Stratum", ""],
    ["capacity_kw", "Capacity", " kW"]
  ];

  function label(value) {
    return String(value).replace(/_/g, " ");
  }

  function colourOf(value) {
    return Object.prototype.hasOwnProperty.call(PALETTE, value) ? PALETTE[value] : FALLBACK;
  }

  function fetchJson(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/geo+json, application/json" } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error(url + " answered " + response.status);
        }
        return response.json();
      });
  }

  function element(tag, text, className) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) {
      node.textContent = String(text);
    }
    if (className) {
      node.className = className;
    }
    return node;
  }

  function popupContent(properties) {
    var box = element("div", null, "map-popup");
    box.appendChild(element("strong", properties.reference));
    if (properties.name) {
      box.appendChild(element("div", properties.name));
    }
    var list = element("dl");
    DETAILS.forEach(function (detail) {
      var value = properties[detail[0]];
      if (value === undefined || value === null || value === "") {
        return;
      }
      list.appendChild(element("dt", detail[1]));
      list.appendChild(element("dd", label(value) + detail[2]));
    });
    box.appendChild(list);
    // Only links into this site: a URL from data never becomes javascript: or another origin.
    if (typeof properties.url === "string" && properties.url.charAt(0) === "/" && properties.url.charAt(1) !== "/") {
      var link = element("a", "Open " + properties.reference);
      link.href = properties.url;
      box.appendChild(link);
    }
    return box;
  }

  function legendControl(counts) {
    var control = L.control({ position: "bottomright" });
    control.onAdd = function () {
      var box = element("div", null, "map-legend");
      box.setAttribute("data-testid", "map-legend");
      Object.keys(counts).sort().forEach(function (value) {
        var row = element("div");
        var swatch = element("span", null, "map-swatch");
        swatch.style.backgroundColor = colourOf(value); // element.style is allowed by the CSP
        row.appendChild(swatch);
        row.appendChild(document.createTextNode(label(value) + " (" + counts[value] + ")"));
        box.appendChild(row);
      });
      return box;
    };
    return control;
  }

  function escapeText(text) {
    // Leaflet writes attributions as HTML: the configured text is shown as text.
    return String(text).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  function draw(box) {
    var tiles = box.getAttribute("data-map-tiles") || "";
    var colourBy = box.getAttribute("data-map-colour-by") || "status";
    var boundaryUrl = box.getAttribute("data-map-boundary") || "";
    var summary = box.parentNode.querySelector("[data-map-summary]");
    var map = L.map(box, { preferCanvas: true, worldCopyJump: false, attributionControl: true });
    map.attributionControl.setPrefix("Leaflet");
    box.poaMap = map; // for tests and debugging: the element, not a global
    if (tiles) {
      L.tileLayer(tiles, {
        maxZoom: 19,
        attribution: escapeText(box.getAttribute("data-map-attribution") || "")
      }).addTo(map);
    } else {
      box.classList.add("map-offline");
    }
    map.setView([0, 0], 2);

    var boundary = boundaryUrl
      ? fetchJson(boundaryUrl).catch(function () { return null; }) // the points matter more
      : Promise.resolve(null);
    Promise.all([fetchJson(box.getAttribute("data-map-sites")), boundary])
      .then(function (results) {
        var sites = results[0];
        var bounds = L.latLngBounds([]);
        var notes = [];
        if (results[1] && results[1].features && results[1].features.length) {
          var shape = L.geoJSON(results[1], {
            interactive: false,
            style: { color: "#1c4966", weight: 2, fillColor: "#1c4966", fillOpacity: 0.05 }
          }).addTo(map);
          bounds.extend(shape.getBounds());
        } else if (results[1] && results[1].codes) {
          notes.push("boundary: " + results[1].codes.join(", "));
        }
        var features = (sites && sites.features) || [];
        var group = L.featureGroup().addTo(map);
        var renderer = L.canvas({ padding: 0.5 });
        var counts = {};
        var south = 90, west = 180, north = -90, east = -180;
        features.forEach(function (feature) {
          var c = feature.geometry.coordinates;
          south = Math.min(south, c[1]); north = Math.max(north, c[1]);
          west = Math.min(west, c[0]); east = Math.max(east, c[0]);
          var value = feature.properties[colourBy];
          counts[value] = (counts[value] || 0) + 1;
        });
        if (features.length) {
          bounds.extend([[south, west], [north, east]]);
        }
        group.on("click", function (event) {
          L.popup({ maxWidth: 280 })
            .setLatLng(event.layer.getLatLng())
            .setContent(popupContent(event.layer.siteProperties))
            .openOn(map);
        });
        if (bounds.isValid()) {
          map.fitBounds(bounds, { padding: [20, 20], maxZoom: 14 });
        }
        legendControl(counts).addTo(map);
        notes.unshift(features.length + " site" + (features.length === 1 ? "" : "s") + " on the map");
        if (sites && sites.unlocated) {
          notes.push(sites.unlocated + " without coordinates");
        }
        if (summary) {
          summary.textContent = summary.textContent + " · " + notes.join("; ");
        }

        var index = 0;
        function addSlice() {
          var end = Math.min(index + SLICE, features.length);
          for (; index < end; index += 1) {
            var feature = features[index];
            var colour = colourOf(feature.properties[colourBy]);
            var marker = L.circleMarker([feature.geometry.coordinates[1], feature.geometry.coordinates[0]], {
              renderer: renderer,
              radius: 6,
              weight: 1,
              color: "#ffffff",
              fillColor: colour,
              fillOpacity: 0.9
            });
            marker.siteProperties = feature.properties;
            group.addLayer(marker);
          }
          if (index < features.length) {
            window.requestAnimationFrame(addSlice);
          } else {
            box.dataset.mapReady = "yes";
          }
        }
        addSlice();
      })
      .catch(function (error) {
        box.dataset.mapReady = "error";
        if (summary) {
          summary.textContent = summary.textContent + " · the map could not be loaded (" + error.message + ")";
        }
      });
  }

  function start() {
    if (typeof L === "undefined") {
      return;
    }
    Array.prototype.forEach.call(document.querySelectorAll("[data-map-sites]"), draw);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();

// Keeps each organization card fresh: polls its summary every few seconds, so a payment that
// arrives through a webhook shows up without a reload.
(function () {
  const BUCKETS = ["current", "1-30", "31-60", "61-90", "90+"];
  const money = (s) => Number(s).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });

  function render(card, data) {
    card.querySelector('[data-field="status"]').textContent = data.status.replace("_", " ");
    card.querySelector('[data-field="status"]').className = "status status-" + data.status;
    const detail = card.querySelector('[data-field="status_detail"]');
    detail.textContent = data.status_detail || "";
    detail.hidden = !data.status_detail;
    card.querySelector('[data-field="last_synced_at"]').textContent = data.last_synced_label;
    const err = card.querySelector('[data-field="last_sync_error"]');
    err.textContent = data.last_sync_error || "";
    err.hidden = !data.last_sync_error;
    for (const [key, value] of Object.entries(data.counts)) {
      const el = card.querySelector(`[data-count="${key}"]`);
      if (el) el.textContent = value;
    }
    const body = card.querySelector('[data-field="aging"]');
    body.replaceChildren(...data.aging.map((row) => {
      const tr = document.createElement("tr");
      tr.dataset.currency = row.currency;
      const th = document.createElement("th");
      th.textContent = row.currency;
      tr.append(th);
      for (const b of BUCKETS.concat(["total"])) {
        const td = document.createElement("td");
        td.dataset.bucket = b;
        td.textContent = money(b === "total" ? row.total : row.buckets[b]);
        tr.append(td);
      }
      return tr;
    }));
  }

  async function refresh(card) {
    try {
      const response = await fetch(card.dataset.summaryUrl, { headers: { Accept: "application/json" } });
      if (response.ok) render(card, await response.json());
    } catch (e) { /* the next tick tries again */ }
  }

  document.querySelectorAll(".org[data-summary-url]").forEach((card) => {
    setInterval(() => refresh(card), 2000);
  });
})();

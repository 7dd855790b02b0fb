/* The book page's hedges: a senior trader's cancel, change of horizon and hedge now. */
(function () {
  "use strict";
  const Desk = window.Desk;
  const message = document.getElementById("hedge-message");
  const section = document.getElementById("hedges");
  if (!section || !Desk) return;
  section.addEventListener("click", async (ev) => {
    const button = ev.target.closest("button[data-hedge-action]");
    if (!button) return;
    const order = button.dataset.order;
    const action = button.dataset.hedgeAction;
    let path = `/api/hedge/orders/${order}/${action}/`;
    let body = {};
    if (action === "horizon") {
      const input = section.querySelector(`input.hours[data-order="${order}"]`);
      body = { hours: input && input.value !== "" ? Number(input.value) : null };
    }
    message.textContent = "";
    try {
      await Desk.api(path, { method: "POST", body });
      message.textContent = `Order ${order}: ${action.replace("-", " ")} done.`;
      setTimeout(() => window.location.reload(), 400);
    } catch (e) {
      message.textContent = e.message;
      message.classList.add("error");
    }
  });
})();

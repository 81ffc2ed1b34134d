// Stripe's hosted fields (the Payment Element): the card or IBAN goes from the member's
// browser to Stripe, never to Dues. Stripe sends the member back to data-return-url.
(function () {
  var form = document.getElementById("stripe-setup");
  if (!form || typeof Stripe === "undefined") return;
  var stripe = Stripe(form.dataset.publishableKey);
  var elements = stripe.elements({ clientSecret: form.dataset.clientSecret, locale: form.dataset.locale });
  elements.create("payment").mount("#payment-element");
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    stripe.confirmSetup({ elements: elements, confirmParams: { return_url: form.dataset.returnUrl } })
      .then(function (result) {
        if (result.error) document.getElementById("stripe-error").textContent = result.error.message;
      });
  });
})();

// login.html: the server sends the operator back to /login?error=1 after a wrong token.
// The message is already in the page (hidden), so no server text is ever inserted.
if (new URLSearchParams(window.location.search).get('error') === '1') {
  document.getElementById('login-error').hidden = false;
}

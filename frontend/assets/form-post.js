// response_mode=form_post: send the authorization response to the
// application at once (the page's button does the same without script).
document.getElementById("form-post")?.submit();

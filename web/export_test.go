package web

// FreeTextFields are the form fields the edge leaves to their own parsers (see freeText).
var FreeTextFields = freeText

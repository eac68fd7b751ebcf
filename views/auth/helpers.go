package auth

import "net/url"

func ssoHref(next string) string {
	if next == "" || next == "/" {
		return "/auth/sso"
	}
	return "/auth/sso?next=" + url.QueryEscape(next)
}

func passwordButtonClass(sso bool) string {
	if sso {
		return "btn-secondary w-full"
	}
	return "btn-primary w-full"
}

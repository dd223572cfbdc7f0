// RFC 9110's token: what a method or a header field name may be made of.
export const HTTP_TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

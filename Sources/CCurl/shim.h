// libcurl 7.88 (OpenSSL flavour), owned by the TesseraStorage target.
// curl_easy_setopt/getinfo are variadic and cannot be called from Swift: typed wrappers live here.
#include <curl/curl.h>

static inline CURLcode tessera_curl_setopt_long(CURL *h, CURLoption o, long v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode tessera_curl_setopt_string(CURL *h, CURLoption o, const char *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode tessera_curl_setopt_pointer(CURL *h, CURLoption o, void *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode tessera_curl_getinfo_long(CURL *h, CURLINFO i, long *v) { return curl_easy_getinfo(h, i, v); }

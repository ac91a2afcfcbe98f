<?php
{{ header }}
/**
 * @file
 * Drupal settings for instance {{ sid }}. Instance facts come from
 * settings.local_pre.php, database and cache servers from
 * settings.local_post.php.
 */
global $conf;

if (file_exists(__DIR__ . '/settings.local_pre.php')) {
  include __DIR__ . '/settings.local_pre.php';
}

$conf['install_profile'] = {{ profile|php }};
$conf['cu_sid'] = {{ sid|php }};

// The site's URL in this environment: the environment's host plus the path.
$base_url = {{ base_url|php }};

// Caching and performance.
$conf['cache'] = 1;
$conf['block_cache'] = 0;
$conf['page_compression'] = 0;
$conf['preprocess_css'] = TRUE;
$conf['preprocess_js'] = TRUE;
$conf['page_cache_invoke_hooks'] = FALSE;
{% if memcache_servers %}
// Memcache.
$conf['cache_backends'][] = 'profiles/' . $conf['install_profile'] . '/modules/contrib/memcache/memcache.inc';
$conf['lock_inc'] = 'profiles/' . $conf['install_profile'] . '/modules/contrib/memcache/memcache-lock.inc';
$conf['cache_default_class'] = 'MemCacheDrupal';
$conf['cache_class_cache_form'] = 'DrupalDatabaseCache';
$conf['memcache_key_prefix'] = $conf['cu_sid'];
$conf['memcache_bins'] = array('cache' => 'default');
$conf['memcache_persistent'] = FALSE;
{% endif %}
{% if reverse_proxies %}
// Varnish in front of the web servers.
$conf['reverse_proxy'] = TRUE;
$conf['reverse_proxy_addresses'] = {{ reverse_proxies|php }};
$conf['reverse_proxy_header'] = 'X-Forwarded-For';
{% endif %}
// Never update code or block IPs through the UI; no poor man's cron.
$conf['allow_authorize_operations'] = FALSE;
$conf['blocked_ips'] = array();
$conf['cron_safe_threshold'] = 0;
{% if environment == 'local' or environment == 'development' %}
$conf['drupal_http_request_fails'] = FALSE;
{% endif %}
{% if environment == 'local' %}
$conf['error_level'] = 2;
{% endif %}
$conf['file_temporary_path'] = {{ tmp_path|php }};

// Cookies are scoped to the instance's path.
ini_set('session.cookie_lifetime', 93600);
{% if launched and path == '' %}
ini_set('session.cookie_path', '/');
{% else %}
ini_set('session.cookie_path', '/' . {{ path|php }});
{% endif %}

if (file_exists(__DIR__ . '/settings.local_post.php')) {
  include __DIR__ . '/settings.local_post.php';
}

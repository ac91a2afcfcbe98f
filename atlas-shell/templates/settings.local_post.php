<?php
{{ header }}
/**
 * @file
 * Database and cache servers, loaded after the main settings.
 */
global $conf;

// Min cache lifetime 0; max age from the instance's settings.
$conf['cache_lifetime'] = 0;
$conf['page_cache_maximum_age'] = {{ page_cache_maximum_age|php }};

$databases['default']['default'] = array(
  'driver' => 'mysql',
  'database' => {{ database.name|php }},
  'username' => {{ database.user|php }},
  'password' => {{ database.password|php }},
  'host' => {{ database.host|php }},
  'port' => {{ database.port|php }},
  'prefix' => '',
);
{% for replica in database.replicas %}
$databases['default']['slave'][] = array(
  'driver' => 'mysql',
  'database' => {{ database.name|php }},
  'username' => {{ database.user|php }},
  'password' => {{ database.password|php }},
  'host' => {{ replica|php }},
  'port' => {{ database.port|php }},
  'prefix' => '',
);
{% endfor %}
{% if memcache_servers %}
$conf['memcache_servers'] = array(
{% for server in memcache_servers %}
  {{ server|php }} => 'default',
{% endfor %}
);
{% endif %}
{% if varnish_servers %}
// Varnish: Drupal's varnish module purges pages through the control terminal.
$conf['cache_backends'][] = 'profiles/' . {{ profile|php }} . '/modules/contrib/varnish/varnish.cache.inc';
$conf['cache_class_cache_page'] = 'VarnishCache';
$conf['varnish_control_terminal'] = {{ varnish_control|php }};
$conf['varnish_version'] = {{ varnish_version|php }};
$conf['varnish_control_key'] = {{ varnish_control_key|php }};
{% endif %}

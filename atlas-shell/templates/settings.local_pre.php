<?php
{{ header }}
/**
 * @file
 * Instance facts Atlas knows, loaded before the main settings.
 */
global $conf;

$conf['install_profile'] = {{ profile|php }};
$conf['cu_sid'] = {{ sid|php }};
$conf['atlas_id'] = {{ atlas_id|php }};
$conf['atlas_url'] = {{ atlas_url|php }};
$conf['atlas_username'] = {{ atlas_username|php }};
$conf['atlas_password'] = {{ atlas_password|php }};
$conf['atlas_status'] = {{ status|php }};
$conf['atlas_statistics_id'] = {{ statistics_id|php }};
$conf['atlas_pool'] = {{ pool|php }};
$conf['atlas_type'] = {{ instance_type|php }};
$conf['atlas_environment'] = {{ environment|php }};

$conf['siteimprove_site'] = {{ siteimprove_site|php }};
$conf['siteimprove_group'] = {{ siteimprove_group|php }};

$path = {{ path|php }};
$launched = {{ launched|php }};
{% if launched -%}
$conf['cu_path'] = {{ path|php }};
{% endif -%}

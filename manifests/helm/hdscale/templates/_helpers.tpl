{{/*
Helpers of the hdscale chart. Object names are fixed (as in manifests/):
hdscale is installed once per cluster.
*/}}

{{/* chart label value: name-version */}}
{{- define "hdscale.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Labels of every object and pod template: the base's part-of plus Helm's own
(helm.sh/chart, managed-by, instance, version). Never used in selectors.
*/}}
{{- define "hdscale.labels" -}}
app.kubernetes.io/part-of: hdscale
helm.sh/chart: {{ include "hdscale.chart" . }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}

{{/* Selector labels of a component: (dict "component" "webhook") */}}
{{- define "hdscale.selectorLabels" -}}
app.kubernetes.io/name: hdscale
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/*
Image reference: (dict "image" <values image> "defaultTag" <tag>).
registry/repository:tag, or @digest when digest is set.
*/}}
{{- define "hdscale.imageRef" -}}
{{- $img := .image -}}
{{- $repo := $img.repository -}}
{{- if $img.registry -}}
{{- $repo = printf "%s/%s" (trimSuffix "/" $img.registry) $img.repository -}}
{{- end -}}
{{- if $img.digest -}}
{{- printf "%s@%s" $repo $img.digest -}}
{{- else -}}
{{- printf "%s:%s" $repo (default .defaultTag $img.tag) -}}
{{- end -}}
{{- end -}}

{{/* The hdscale image (webhook, extender). */}}
{{- define "hdscale.image" -}}
{{- include "hdscale.imageRef" (dict "image" .Values.image "defaultTag" (printf "v%s" .Chart.AppVersion)) -}}
{{- end -}}

{{/* The cluster's version as v<major>.<minor>.<patch> (distribution suffix dropped). */}}
{{- define "hdscale.clusterVersion" -}}
{{- $v := regexFind "[0-9]+\\.[0-9]+\\.[0-9]+" .Capabilities.KubeVersion.Version -}}
{{- printf "v%s" $v -}}
{{- end -}}

{{/* The kube-scheduler image: its tag defaults to the cluster's version. */}}
{{- define "hdscale.schedulerImage" -}}
{{- include "hdscale.imageRef" (dict "image" .Values.scheduler.kubeScheduler.image "defaultTag" (include "hdscale.clusterVersion" .)) -}}
{{- end -}}

{{/*
Pod placement of a component: (dict "v" <component values> "component" <name>).
nodeSelector, affinity, tolerations, topologySpreadConstraints (a constraint
without labelSelector gets the component's selector labels), as YAML.
*/}}
{{- define "hdscale.placement" -}}
{{- $p := dict -}}
{{- with .v.nodeSelector }}{{ $_ := set $p "nodeSelector" . }}{{ end -}}
{{- with .v.affinity }}{{ $_ := set $p "affinity" . }}{{ end -}}
{{- with .v.tolerations }}{{ $_ := set $p "tolerations" . }}{{ end -}}
{{- $tscs := list -}}
{{- range .v.topologySpreadConstraints -}}
{{- $c := deepCopy . -}}
{{- if not (hasKey $c "labelSelector") -}}
{{- $_ := set $c "labelSelector" (dict "matchLabels" (include "hdscale.selectorLabels" $ | fromYaml)) -}}
{{- end -}}
{{- $tscs = append $tscs $c -}}
{{- end -}}
{{- with $tscs }}{{ $_ := set $p "topologySpreadConstraints" . }}{{ end -}}
{{- if $p }}{{ toYaml $p }}{{ end -}}
{{- end -}}

{{/* Pod spec fields shared by both Deployments: priority class, pull secrets. */}}
{{- define "hdscale.podCommon" -}}
{{- $p := dict -}}
{{- with .Values.priorityClassName }}{{ $_ := set $p "priorityClassName" . }}{{ end -}}
{{- with .Values.imagePullSecrets }}{{ $_ := set $p "imagePullSecrets" . }}{{ end -}}
{{- if $p }}{{ toYaml $p }}{{ end -}}
{{- end -}}

{{/*
PodDisruptionBudget sanity: (dict "name" "webhook" "v" <component values>).
An integer minAvailable must stay below replicas, or no drain could ever
evict one of these pods.
*/}}
{{- define "hdscale.checkPDB" -}}
{{- $pdb := .v.podDisruptionBudget -}}
{{- if and $pdb.enabled (kindIs "float64" $pdb.minAvailable) -}}
{{- if ge (int $pdb.minAvailable) (int .v.replicas) -}}
{{- fail (printf "%s.podDisruptionBudget.minAvailable (%d) must be below %s.replicas (%d): no node drain could evict a %s pod otherwise; set %s.podDisruptionBudget.enabled=false to run a single replica" .name (int $pdb.minAvailable) .name (int .v.replicas) .name .name) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* A CEL string literal: single quotes, with \ ' and line breaks escaped. */}}
{{- define "hdscale.cel.quote" -}}
'{{ . | toString | replace "\\" "\\\\" | replace "'" "\\'" | replace "\n" "\\n" | replace "\r" "\\r" }}'
{{- end -}}

{{/*
The runtime-candidate CEL condition, rendered from .Values.runtimeRules so that
it accepts every pod the webhook's rules (the same values, in ConfigMap
hdscale-webhook-config) can classify as runtime:
  runtime.images -> a container image containing the image's last path
                    component (the webhook matches the repository or a
                    "/"-suffix of it, which always contains that component);
  runtime.env    -> a container env of that name whose value, trimmed and
                    lower-cased, is one of the values (trimmed, lower-cased);
  podLabels      -> every label present with its value.
notRuntime is not mirrored: the condition must be a superset.
Every field is guarded (has(), `in`) so it never fails to evaluate.
Arguments: (dict "rules" <runtimeRules> "containers" <CEL path of the
containers list> "labels" <CEL path of the labels map> "labelsGuard" <CEL
that holds when that map exists>).
*/}}
{{- define "hdscale.cel.runtime" -}}
{{- $rules := .rules -}}
{{- $terms := list -}}
{{- range $img := ($rules.runtime.images | default list) -}}
{{- $terms = append $terms (printf "(has(c.image) && c.image.contains(%s))" (include "hdscale.cel.quote" (last (splitList "/" $img)))) -}}
{{- end -}}
{{- range $env := ($rules.runtime.env | default list) -}}
{{- $vals := list -}}
{{- range $env.values -}}
{{- $vals = append $vals (include "hdscale.cel.quote" (. | toString | trim | lower)) -}}
{{- end -}}
{{- $terms = append $terms (printf "(has(c.env) && c.env.exists(e,\n        has(e.name) && e.name == %s &&\n        has(e.value) &&\n        e.value.trim().lowerAscii() in [%s]))" (include "hdscale.cel.quote" $env.name) (join ", " $vals)) -}}
{{- end -}}
{{- $clauses := list -}}
{{- if $terms -}}
{{- $clauses = append $clauses (printf "(has(%s) && %s != null &&\n  %s.exists(c,\n    %s))" .containers .containers .containers (join " ||\n    " (uniq $terms))) -}}
{{- end -}}
{{- $labels := $rules.podLabels | default dict -}}
{{- if $labels -}}
{{- $lterms := list -}}
{{- range $k := keys $labels | sortAlpha -}}
{{- $lterms = append $lterms (printf "%s in %s &&\n  %s[%s] == %s" (include "hdscale.cel.quote" $k) $.labels $.labels (include "hdscale.cel.quote" $k) (include "hdscale.cel.quote" (get $labels $k))) -}}
{{- end -}}
{{- $clauses = append $clauses (printf "(%s &&\n  %s)" .labelsGuard (join " &&\n  " $lterms)) -}}
{{- end -}}
{{- if not $clauses -}}
{{- fail "runtimeRules: runtime.images, runtime.env and podLabels are all empty: no pod would ever be a runtime pod" -}}
{{- end -}}
{{- join "\n|| " $clauses -}}
{{- end -}}

{{/* runtime-candidate of the pod webhook entries (enforce and audit). */}}
{{- define "hdscale.cel.runtimePod" -}}
{{- include "hdscale.cel.runtime" (dict "rules" .Values.runtimeRules "containers" "object.spec.containers" "labels" "object.metadata.labels" "labelsGuard" "has(object.metadata.labels)") -}}
{{- end -}}

{{/* runtime-template of the Deployment webhook entry: the same on the pod template. */}}
{{- define "hdscale.cel.runtimeTemplate" -}}
has(object.spec.template) && ({{ include "hdscale.cel.runtime" (dict "rules" .Values.runtimeRules "containers" "object.spec.template.spec.containers" "labels" "object.spec.template.metadata.labels" "labelsGuard" "has(object.spec.template.metadata) && has(object.spec.template.metadata.labels)") }})
{{- end -}}

{{/* namespaceSelector expressions shared by the namespaced webhook entries. */}}
{{- define "hdscale.namespaceExclusions" -}}
- key: hdscale.io/pattern
  operator: Exists
- key: kubernetes.io/metadata.name
  operator: NotIn
  values:
  {{- range (concat (.Values.webhook.excludedNamespaces | default list) (list .Release.Namespace)) | uniq }}
  - {{ . | quote }}
  {{- end }}
{{- end -}}

{{/* clientConfig.service of the webhook entries: (dict "root" $ "path" "/mutate") */}}
{{- define "hdscale.clientConfig" -}}
clientConfig:
  service:
    namespace: {{ .root.Release.Namespace }}
    name: hdscale-webhook
    path: {{ .path }}
    port: 443
{{- end -}}

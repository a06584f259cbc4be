package upstream

import (
	"embed"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// generated holds the CRDs controller-gen wrote from the operators' Go API
// types (scripts/crds.sh), named <group>_<plural>.yaml.
//
//go:embed crds/*.yaml
var generated embed.FS

// OpenSchemaLabel marks a definition whose schema accepts any object.
const OpenSchemaLabel = "cloudscale.io/open-schema"

// Definitions registers the CustomResourceDefinition of each kind (see
// Definition); objects of those kinds depend on what it returns.
func Definitions(ctx *pulumi.Context, kinds []Kind, opts ...pulumi.ResourceOption) ([]pulumi.Resource, error) {
	var out []pulumi.Resource
	for _, k := range kinds {
		crd, err := Definition(k)
		if err != nil {
			return nil, err
		}
		r, err := NewObject(ctx, crd.Name, crd, nil, opts...)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// Definition is the CustomResourceDefinition of k: the generated one for a
// Generated kind (an error if it is missing or defines another kind), an
// open schema otherwise. The scope is k's: cert-manager's types mark no
// scope (its chart's templates write ClusterIssuer's), and controller-gen
// then writes Namespaced.
func Definition(k Kind) (*apiextensionsv1.CustomResourceDefinition, error) {
	if !k.Generated {
		return openDefinition(k), nil
	}
	// Parsed once per process: the Chaos Mesh definitions alone are 1.3 MB
	// of YAML, and a stack is evaluated more than once (stacks.ChaosPlan).
	key := k.Group + "/" + k.Plural + "/" + k.Kind
	if v, ok := definitions.Load(key); ok {
		return v.(*apiextensionsv1.CustomResourceDefinition).DeepCopy(), nil
	}
	crd, err := parseDefinition(k)
	if err != nil {
		return nil, err
	}
	definitions.Store(key, crd)
	return crd.DeepCopy(), nil
}

var definitions sync.Map // group/plural/kind -> *CustomResourceDefinition

func parseDefinition(k Kind) (*apiextensionsv1.CustomResourceDefinition, error) {
	name := k.Plural + "." + k.Group
	file := "crds/" + k.Group + "_" + k.Plural + ".yaml"
	data, err := generated.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("kind %s: no generated definition %s; run `make crds`", k.Kind, file)
	}
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.UnmarshalStrict(data, &crd); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if crd.Name != name || crd.Spec.Names.Kind != k.Kind {
		return nil, fmt.Errorf("%s defines %s (%s), not %s (%s)", file, crd.Name, crd.Spec.Names.Kind, name, k.Kind)
	}
	crd.TypeMeta = metav1.TypeMeta{APIVersion: apiextensionsv1.SchemeGroupVersion.String(), Kind: "CustomResourceDefinition"}
	crd.Spec.Scope = scope(k)
	if len(k.Opaque) > 0 {
		for i := range crd.Spec.Versions {
			if v := crd.Spec.Versions[i].Schema; v != nil && v.OpenAPIV3Schema != nil {
				opaque(v.OpenAPIV3Schema, k.Opaque)
			}
		}
	}
	return &crd, nil
}

// opaque replaces, anywhere under s, the schema of every property named in
// names with one that keeps any value of the same type. A definition is
// stored whole in the stack's state and sent on every change: the
// PerconaServerMongoDB's generated schema (0.5 MB of JSON) made each local
// up 26 s slower (91 s against 65 s, measured with `cloudscale up --stack
// local --render`), for fields (arbiters, hidden and non-voting members,
// sidecars) the platform never sets. The rest of the schema still checks
// every field the platform writes.
func opaque(s *apiextensionsv1.JSONSchemaProps, names []string) {
	keep := true
	for name, p := range s.Properties {
		if slices.Contains(names, name) {
			open := apiextensionsv1.JSONSchemaProps{Type: p.Type, XPreserveUnknownFields: &keep}
			if p.Type == "array" {
				open = apiextensionsv1.JSONSchemaProps{Type: "array", Items: &apiextensionsv1.JSONSchemaPropsOrArray{
					Schema: &apiextensionsv1.JSONSchemaProps{Type: "object", XPreserveUnknownFields: &keep}}}
			}
			s.Properties[name] = open
			continue
		}
		opaque(&p, names)
		s.Properties[name] = p
	}
	if s.Items != nil && s.Items.Schema != nil {
		opaque(s.Items.Schema, names)
	}
}

// openDefinition defines k with a schema that keeps any object as
// written: the API server stores it, and no controller acts on it.
func openDefinition(k Kind) *apiextensionsv1.CustomResourceDefinition {
	open := true
	var versions []apiextensionsv1.CustomResourceDefinitionVersion
	for i, v := range k.Versions {
		versions = append(versions, apiextensionsv1.CustomResourceDefinitionVersion{
			Name: v, Served: true, Storage: i == 0,
			Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
				Type: "object", XPreserveUnknownFields: &open,
			}},
		})
	}
	return &apiextensionsv1.CustomResourceDefinition{
		TypeMeta: metav1.TypeMeta{APIVersion: apiextensionsv1.SchemeGroupVersion.String(), Kind: "CustomResourceDefinition"},
		ObjectMeta: metav1.ObjectMeta{
			Name:   k.Plural + "." + k.Group,
			Labels: map[string]string{OpenSchemaLabel: "true"},
		},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: k.Group, Scope: scope(k), Versions: versions,
			Names: apiextensionsv1.CustomResourceDefinitionNames{
				Kind: k.Kind, Plural: k.Plural, Singular: strings.ToLower(k.Kind), ListKind: k.Kind + "List",
			},
		},
	}
}

func scope(k Kind) apiextensionsv1.ResourceScope {
	if k.Namespaced {
		return apiextensionsv1.NamespaceScoped
	}
	return apiextensionsv1.ClusterScoped
}

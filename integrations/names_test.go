package integrations

import (
	"regexp"
	"strings"
	"testing"
)

var validName = regexp.MustCompile(`^[a-z0-9_]{1,64}$`)

func TestSnake(t *testing.T) {
	for in, want := range map[string]string{
		"listCrmContacts":          "list_crm_contacts",
		"GetHTTPResponseCode":      "get_http_response_code",
		"repos/list-for-org":       "repos_list_for_org",
		"Delete Order!":            "delete_order",
		"v2.users.get":             "v2_users_get",
		"__x__":                    "x",
		"créerContact":             "cr_er_contact",
		"already_snake_case":       "already_snake_case",
		"APIKeys":                  "api_keys",
		"get-/orgs/{org}/members~": "get_orgs_org_members",
	} {
		if got := snake(in); got != want {
			t.Errorf("snake(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestToolName: short names stay; long ones are abbreviated, else cut with a hash; every
// result is valid and the same input always gives the same name.
func TestToolName(t *testing.T) {
	if got := toolName("list_contacts"); got != "list_contacts" {
		t.Errorf("a short name changed: %q", got)
	}
	long := "list_organization_administrator_notification_subscriptions_for_environment"
	if got := toolName(long); got != "list_org_admin_notif_subs_for_env" {
		t.Errorf("abbreviated: %q", got)
	}
	a := "get_" + strings.Repeat("alpha_beta_gamma_", 6) + "one"
	b := "get_" + strings.Repeat("alpha_beta_gamma_", 6) + "two"
	na, nb := toolName(a), toolName(b)
	if na == nb || len(na) > 64 || len(nb) > 64 || !validName.MatchString(na) || !validName.MatchString(nb) {
		t.Errorf("cut names %q %q", na, nb)
	}
	if na != toolName(a) || nb != toolName(b) {
		t.Error("not deterministic")
	}
	// the hash suffix is part of the contract: a name must not change between releases
	if na != "get_alpha_beta_gamma_alpha_beta_gamma_alpha_beta_gamma_al_009855" || len(na) != 64 {
		t.Errorf("cut name %q", na)
	}
	if toolName("") != "operation" {
		t.Error("empty base")
	}
}

func TestUniqueName(t *testing.T) {
	taken := map[string]bool{}
	got := []string{uniqueName("x", taken), uniqueName("x", taken), uniqueName("x", taken)}
	if got[0] != "x" || got[1] != "x_2" || got[2] != "x_3" {
		t.Errorf("%v", got)
	}
	full := strings.Repeat("a", 64)
	if n1, n2 := uniqueName(full, taken), uniqueName(full, taken); n1 != full || n2 != strings.Repeat("a", 62)+"_2" {
		t.Errorf("%q %q", n1, n2)
	}
}

// TestNamesCollideAfterShortening: two operationIds that shorten to the same name, and a
// derived name equal to an operationId's, still give unique valid names, the same on every
// load.
func TestNamesCollideAfterShortening(t *testing.T) {
	base := strings.Repeat("configuration_", 6)
	doc := `{"openapi":"3.0.3","info":{"title":"N","version":"1"},"servers":[{"url":"https://n.example.com"}],"paths":{
	  "/a":{"get":{"operationId":"` + base + `a","responses":{"200":{"description":"ok"}}}},
	  "/b":{"get":{"operationId":"` + strings.ReplaceAll(base, "configuration", "config") + `a","responses":{"200":{"description":"ok"}}}},
	  "/c":{"get":{"operationId":"list_n_d","responses":{"200":{"description":"ok"}}}},
	  "/d":{"get":{"responses":{"200":{"description":"ok"}}}}}}`
	var first []string
	for range 3 {
		in, err := Parse("n", "n.json", []byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		seen := map[string]bool{}
		for _, tool := range in.Tools {
			if !validName.MatchString(tool.Name) || seen[tool.Name] {
				t.Fatalf("name %q", tool.Name)
			}
			seen[tool.Name] = true
			names = append(names, tool.Name)
		}
		if first == nil {
			first = names
		} else if strings.Join(first, ",") != strings.Join(names, ",") {
			t.Fatalf("names changed between loads: %v then %v", first, names)
		}
	}
	want := "config_config_config_config_config_config_a,config_config_config_config_config_config_a_2,list_n_d,list_n_d_2"
	if strings.Join(first, ",") != want {
		t.Errorf("names %v, want %s", first, want)
	}
}

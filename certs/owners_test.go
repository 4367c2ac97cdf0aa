package certs

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func TestWantOwners(t *testing.T) {
	t.Parallel()
	mut := owner{kind: kindMutating, name: "hdscale", uid: "m1"}
	val := owner{kind: kindValidating, name: "hdscale", uid: "v1"}
	foreign := metav1.OwnerReference{APIVersion: "v1", Kind: "ConfigMap", Name: "x", UID: "c1"}
	stale := owner{kind: kindMutating, name: "hdscale", uid: "old"}.reference()
	renamed := owner{kind: kindValidating, name: "before-rename", uid: "v0"}.reference()
	tests := []struct {
		name    string
		current []metav1.OwnerReference
		owners  []owner
		want    []metav1.OwnerReference
	}{
		{name: "new Secret gets both configurations", owners: []owner{mut, val},
			want: []metav1.OwnerReference{mut.reference(), val.reference()}},
		{name: "no configuration yet: references untouched", current: []metav1.OwnerReference{foreign},
			want: []metav1.OwnerReference{foreign}},
		{name: "stale UID and renamed configuration replaced, foreign kept first",
			current: []metav1.OwnerReference{stale, foreign, renamed}, owners: []owner{mut, val},
			want: []metav1.OwnerReference{foreign, mut.reference(), val.reference()}},
		{name: "only the mutating configuration exists", current: []metav1.OwnerReference{stale}, owners: []owner{mut},
			want: []metav1.OwnerReference{mut.reference()}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{OwnerReferences: tc.current}}
			got := wantOwners(sec, tc.owners)
			if len(got) != len(tc.want) {
				t.Fatalf("owners %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("owner %d = %+v, want %+v", i, got[i], tc.want[i])
				}
				if got[i].Controller != nil || got[i].BlockOwnerDeletion != nil {
					t.Errorf("owner %d sets controller/blockOwnerDeletion (needs extra RBAC, means nothing here): %+v", i, got[i])
				}
			}
			up := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{OwnerReferences: got}}
			if !ownersUpToDate(up, tc.owners) {
				t.Errorf("a Secret carrying wantOwners is not up to date")
			}
			if len(tc.owners) > 0 && len(tc.current) > 0 && ownersUpToDate(sec, tc.owners) {
				t.Errorf("the Secret before the change counts as up to date")
			}
		})
	}
}

// The Secret belongs to the webhook configurations, so the garbage collector
// removes it with them (helm uninstall, kubectl delete of the release file).
func TestSecretOwnedByWebhookConfigurations(t *testing.T) {
	t.Parallel()
	wantRefs := func(t *testing.T, sec *corev1.Secret, uids ...types.UID) {
		t.Helper()
		var got []types.UID
		for _, r := range sec.OwnerReferences {
			if isOurs(r) {
				got = append(got, r.UID)
			}
		}
		if len(got) != len(uids) {
			t.Fatalf("Secret owner UIDs %v, want %v", got, uids)
		}
		for i := range uids {
			if got[i] != uids[i] {
				t.Fatalf("Secret owner UIDs %v, want %v", got, uids)
			}
		}
	}

	t.Run("created with both configurations as owners", func(t *testing.T) {
		t.Parallel()
		c := newCluster(t, defaultConfigs()...)
		m, _ := c.manager(t)
		start(t, m)
		assertConsistent(t, c, m)
		wantRefs(t, c.secret(t), "uid-mutating-hdscale", "uid-validating-hdscale")
	})

	t.Run("a Secret of an older version gets owners without new certificates", func(t *testing.T) {
		t.Parallel()
		c := newCluster(t, defaultConfigs()...)
		m, _ := c.manager(t)
		start(t, m)
		sec := c.secret(t)
		ca := string(sec.Data[KeyCACert])
		serving := string(sec.Data[KeyServingCert])
		// As written before owners existed: no references, plus one of someone else's.
		sec.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: "keep", UID: "c1"}}
		if _, err := c.client.CoreV1().Secrets(sec.Namespace).Update(context.Background(), sec, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		m2, _ := c.manager(t)
		start(t, m2)
		eventually(t, "owners on the Secret", func() bool { return len(c.secret(t).OwnerReferences) == 3 })
		got := c.secret(t)
		if got.OwnerReferences[0].Name != "keep" {
			t.Errorf("the foreign owner reference was not kept first: %+v", got.OwnerReferences)
		}
		wantRefs(t, got, "uid-mutating-hdscale", "uid-validating-hdscale")
		if string(got.Data[KeyCACert]) != ca || string(got.Data[KeyServingCert]) != serving {
			t.Error("adding owners replaced the certificates")
		}
		assertConsistent(t, c, m2)
	})

	t.Run("a configuration created again (new UID) becomes the owner", func(t *testing.T) {
		t.Parallel()
		c := newCluster(t, defaultConfigs()...)
		m, _ := c.manager(t)
		start(t, m)
		ctx := context.Background()
		api := c.client.AdmissionregistrationV1().ValidatingWebhookConfigurations()
		if err := api.Delete(ctx, "hdscale", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		again := validatingConfig("hdscale")
		again.UID = "uid-validating-again"
		if _, err := api.Create(ctx, again, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the new UID among the owners", func() bool {
			for _, r := range c.secret(t).OwnerReferences {
				if r.UID == "uid-validating-again" {
					return true
				}
			}
			return false
		})
		wantRefs(t, c.secret(t), "uid-mutating-hdscale", "uid-validating-again")
		eventually(t, "the caBundle in the new configuration", func() bool {
			b := c.bundles(t)["validating/hdscale/policies.hdscale.io"]
			return len(b) > 0
		})
		assertConsistent(t, c, m)
	})

	t.Run("no webhook configuration: no Secret is made, until one exists", func(t *testing.T) {
		t.Parallel()
		c := newCluster(t)
		m, _ := c.manager(t)
		start(t, m)
		err := m.Ready()
		if err == nil || !strings.Contains(err.Error(), "not creating it while none of the webhook configurations") {
			t.Fatalf("Ready() = %v, want the reason no Secret is made", err)
		}
		if n := countActions(c.client, "create", "secrets"); n != 0 {
			t.Fatalf("%d Secret creates without any owner", n)
		}
		if _, err := c.client.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(context.Background(), mutatingConfig("hdscale"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the Secret once a configuration exists", func() bool {
			_, err := c.client.CoreV1().Secrets("hdscale-system").Get(context.Background(), "hdscale-webhook-tls", metav1.GetOptions{})
			return err == nil
		})
		wantRefs(t, c.secret(t), "uid-mutating-hdscale")
	})

	// An uninstall deletes the configurations, then the garbage collector
	// the Secret, while the replicas still run (preStop): they must not make
	// it again.
	t.Run("uninstall: configurations and then the Secret deleted, nothing made again", func(t *testing.T) {
		t.Parallel()
		c := newCluster(t, defaultConfigs()...)
		m, _ := c.manager(t)
		start(t, m)
		assertConsistent(t, c, m)
		ctx := context.Background()
		if err := c.client.AdmissionregistrationV1().MutatingWebhookConfigurations().Delete(ctx, "hdscale", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := c.client.AdmissionregistrationV1().ValidatingWebhookConfigurations().Delete(ctx, "hdscale", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the replica to see both configurations gone", func() bool { return len(m.owners()) == 0 })
		if err := c.client.CoreV1().Secrets("hdscale-system").Delete(ctx, "hdscale-webhook-tls", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the replica to report why it makes no Secret", func() bool {
			err := m.Ready()
			return err != nil && strings.Contains(err.Error(), "not creating it while none of the webhook configurations")
		})
		if n := countActions(c.client, "create", "secrets"); n != 1 {
			t.Errorf("%d Secret creates, want only the first", n)
		}
		if _, err := m.GetCertificate(nil); err != nil {
			t.Errorf("the replica stops serving its certificate while it shuts down: %v", err)
		}
	})
}
